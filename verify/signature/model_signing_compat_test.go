package signature_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// signedStatement is the part of a statement these tests read.
type signedStatement struct {
	Predicate struct {
		Serialization map[string]any `json:"serialization"`
		Resources     []struct {
			Name      string `json:"name"`
			Algorithm string `json:"algorithm"`
		} `json:"resources"`
	} `json:"predicate"`
}

// TestSignWritesWhatModelSigningReads: what SignModel writes is what
// model_signing's verifier (sigstore/model-transparency e3430730) reads
// back: no resource for an empty file under shards, and none listed in
// ignore_paths for it (the reference refuses "__init__.py:0:0" as
// missing); no resource for a path the signer ignores (the reference
// refuses it as missing); shard_size an integer (its own float breaks its
// range()); BLAKE2b as hash_type "blake2" with resources "blake2b"; and
// BLAKE3 with shards written as files, as the reference writes it.
func TestSignWritesWhatModelSigningReads(t *testing.T) {
	key := newPKI(t).p256
	dir := t.TempDir()
	writeT(t, filepath.Join(dir, "__init__.py"), nil)
	writeT(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), []byte("0123456789"))
	writeT(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), []byte("abcdefghij"))
	for _, tc := range []struct {
		name                  string
		opts                  signature.SignOptions
		method, hashType      string
		algorithm             string
		shardSize             any
		wantNames, wantIgnore []string
	}{
		{name: "sha256 shards", opts: signature.SignOptions{ShardSize: 1000, IgnorePaths: []string{"model-00002-of-00002.safetensors"}},
			method: "shards", hashType: "sha256", algorithm: "sha256-sharded-1000", shardSize: json.Number("1000"),
			wantNames: []string{"model-00001-of-00002.safetensors:0:10"}, wantIgnore: []string{"model-00002-of-00002.safetensors"}},
		{name: "blake2 shards", opts: signature.SignOptions{Hash: verify.BLAKE2b, ShardSize: 4},
			method: "shards", hashType: "blake2", algorithm: "blake2b-sharded-4", shardSize: json.Number("4"),
			wantNames: []string{"model-00001-of-00002.safetensors:0:4", "model-00001-of-00002.safetensors:4:8", "model-00001-of-00002.safetensors:8:10",
				"model-00002-of-00002.safetensors:0:4", "model-00002-of-00002.safetensors:4:8", "model-00002-of-00002.safetensors:8:10"}},
		{name: "blake2 files", opts: signature.SignOptions{Hash: verify.BLAKE2b},
			method: "files", hashType: "blake2", algorithm: "blake2b",
			wantNames: []string{"__init__.py", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}},
		{name: "blake3 shards are files", opts: signature.SignOptions{Hash: verify.BLAKE3, ShardSize: 4},
			method: "files", hashType: "blake3", algorithm: "blake3",
			wantNames: []string{"__init__.py", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := signature.SignModel(context.Background(), dir, key, tc.opts)
			require.NoError(t, err)
			dec := json.NewDecoder(strings.NewReader(string(payloadOf(t, b))))
			dec.UseNumber()
			var st signedStatement
			require.NoError(t, dec.Decode(&st))
			s := st.Predicate.Serialization
			assert.Equal(t, tc.method, s["method"])
			assert.Equal(t, tc.hashType, s["hash_type"])
			assert.Equal(t, tc.shardSize, s["shard_size"], "an integer, which model_signing's range() takes")
			var ignore []string
			for _, p := range s["ignore_paths"].([]any) {
				ignore = append(ignore, p.(string))
			}
			// model_signing's git paths, the bundle written inside the model
			// (model.sig, as model_signing's CLI records its signature), and
			// what the signer ignores.
			assert.ElementsMatch(t, append(append([]string{"model.sig"}, signature.DefaultIgnorePaths...), tc.wantIgnore...), ignore)
			var names []string
			for _, r := range st.Predicate.Resources {
				names = append(names, r.Name)
				assert.Equal(t, tc.algorithm, r.Algorithm)
			}
			assert.Equal(t, tc.wantNames, names)
		})
	}
}

// TestIgnoredWeightsRefusedByCoverage: a signature whose ignore_paths
// leave out weights (model_signing signs so with --ignore-paths naming a
// weight file or a folder holding one) is refused not-allowlisted, by
// the rule that every file that loads is signed; ignoring inert files
// verifies.
func TestIgnoredWeightsRefusedByCoverage(t *testing.T) {
	key := newPKI(t).p256
	v, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey))
	require.NoError(t, err)
	for _, tc := range []struct {
		ignore string
		kind   formats.Kind
	}{{"w.bin", formats.KindNotAllowlisted}, {"sub", formats.KindNotAllowlisted}, {"a.txt", ""}} {
		dir := t.TempDir()
		interopModel(t, dir)
		b, err := signature.SignModel(context.Background(), dir, key, signature.SignOptions{IgnorePaths: []string{tc.ignore}})
		require.NoError(t, err)
		writeT(t, filepath.Join(dir, "model.sig"), b)
		_, err = v.VerifyPath(context.Background(), dir)
		assert.Equal(t, tc.kind, formats.KindOf(err), "ignoring %s: %v", tc.ignore, err)
		if err != nil {
			assert.Contains(t, err.Error(), "not inert")
			assert.Contains(t, err.Error(), "every file that loads must be signed")
		}
	}

	// Weights the manifest signs and a verifier ignores are missing, as
	// model_signing finds them.
	dir := t.TempDir()
	interopModel(t, dir)
	b, err := signature.SignModel(context.Background(), dir, key, signature.SignOptions{})
	require.NoError(t, err)
	writeT(t, filepath.Join(dir, "model.sig"), b)
	ig, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey), signature.WithIgnorePaths("w.bin"))
	require.NoError(t, err)
	_, err = ig.VerifyPath(context.Background(), dir)
	assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "missing: w.bin")
}

// TestBackslashNamesVerify: a file name holding a backslash is an
// ordinary POSIX name that model_signing signs as it is; modelgate signs
// and verifies it too, and a change to that file is still caught.
func TestBackslashNamesVerify(t *testing.T) {
	key := newPKI(t).p256
	v, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey))
	require.NoError(t, err)
	for _, opts := range []signature.SignOptions{{}, {ShardSize: 4}} {
		dir := t.TempDir()
		writeT(t, filepath.Join(dir, `a\b.txt`), []byte("backslash"))
		b, err := signature.SignModel(context.Background(), dir, key, opts)
		require.NoError(t, err)
		writeT(t, filepath.Join(dir, "model.sig"), b)
		_, err = v.VerifyPath(context.Background(), dir)
		require.NoError(t, err)
		writeT(t, filepath.Join(dir, `a\b.txt`), []byte("changed!!"))
		_, err = v.VerifyPath(context.Background(), dir)
		assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), "%v", err)
	}
}

// TestCertificatesCheckedAsModelSigningChecks signs with model_signing's
// certificate method (leaf, intermediate, root) and verifies against the
// root: the chain may carry the root; the leaf must allow signing
// (digitalSignature, or the codeSigning EKU), else signature-invalid, as
// model_signing refuses "Signing certificate cannot be used for signing";
// an intermediate given as the only CA is no trust anchor
// (not-allowlisted), as model_signing's OpenSSL store trusts no partial
// chain; an expired leaf is refused (stricter than model_signing, which
// checks at the leaf's notBefore).
func TestCertificatesCheckedAsModelSigningChecks(t *testing.T) {
	p := newPKI(t)
	good := p.leaf(t, "leaf", p.p256, nil)
	for _, tc := range []struct {
		name   string
		leaf   string
		chain  []*x509.Certificate
		anchor string
		kind   formats.Kind
	}{
		{name: "chain without the root", leaf: good, chain: []*x509.Certificate{p.inter}, anchor: p.rootPEM},
		{name: "chain with the root", leaf: good, chain: []*x509.Certificate{p.inter, p.root}, anchor: p.rootPEM},
		{name: "chain with the root, leaf with an email SAN", leaf: p.leaf(t, "san", p.p256, func(c *x509.Certificate) { c.EmailAddresses = []string{"signer@example.com"} }),
			chain: []*x509.Certificate{p.inter, p.root}, anchor: p.rootPEM},
		{name: "no key usage, no EKU, leaf with an email SAN", leaf: p.leaf(t, "san-bare", p.p256, func(c *x509.Certificate) {
			c.KeyUsage, c.ExtKeyUsage, c.EmailAddresses = 0, nil, []string{"signer@example.com"}
		}), chain: []*x509.Certificate{p.inter}, anchor: p.rootPEM, kind: formats.KindSignatureInvalid},
		{name: "codeSigning EKU, no key usage", leaf: p.leaf(t, "eku", p.p256, func(c *x509.Certificate) { c.KeyUsage = 0 }), chain: []*x509.Certificate{p.inter}, anchor: p.rootPEM},
		{name: "no key usage, no EKU", leaf: p.leaf(t, "bare", p.p256, func(c *x509.Certificate) { c.KeyUsage, c.ExtKeyUsage = 0, nil }),
			chain: []*x509.Certificate{p.inter}, anchor: p.rootPEM, kind: formats.KindSignatureInvalid},
		{name: "keyEncipherment only", leaf: p.leaf(t, "keyenc", p.p256, func(c *x509.Certificate) { c.KeyUsage, c.ExtKeyUsage = x509.KeyUsageKeyEncipherment, nil }),
			chain: []*x509.Certificate{p.inter}, anchor: p.rootPEM, kind: formats.KindSignatureInvalid},
		{name: "intermediate as the only CA", leaf: good, chain: []*x509.Certificate{p.inter}, anchor: p.interPEM, kind: formats.KindNotAllowlisted},
		{name: "expired leaf", leaf: p.leaf(t, "expired", p.p256, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-40*time.Hour), time.Now().Add(-30*time.Hour)
		}), chain: []*x509.Certificate{p.inter}, anchor: p.rootPEM, kind: formats.KindSignatureInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeT(t, filepath.Join(dir, "w.bin"), []byte("weights"))
			leaf, err := signature.LoadCertificatesFile(tc.leaf)
			require.NoError(t, err)
			b, err := signature.SignModel(context.Background(), dir, p.p256, signature.SignOptions{Certificate: leaf[0], Chain: tc.chain})
			require.NoError(t, err)
			writeT(t, filepath.Join(dir, "model.sig"), b)
			v, err := signature.NewVerifier(signature.WithCAFile(tc.anchor))
			require.NoError(t, err)
			signer, err := v.VerifyPath(context.Background(), dir)
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
			if tc.kind == "" {
				assert.Contains(t, signer, "certificate")
			}
		})
	}
}

// TestSignRefusesAnotherKeysCertificate: the certificate must be the
// signing key's, as model_signing's certificate signer checks.
func TestSignRefusesAnotherKeysCertificate(t *testing.T) {
	p := newPKI(t)
	leaf, err := signature.LoadCertificatesFile(p.leaf(t, "leaf", p.p256, nil))
	require.NoError(t, err)
	dir := t.TempDir()
	writeT(t, filepath.Join(dir, "w.bin"), []byte("weights"))
	_, err = signature.SignModel(context.Background(), dir, p.p384, signature.SignOptions{Certificate: leaf[0]})
	assert.Equal(t, formats.KindSignatureInvalid, formats.KindOf(err), "%v", err)
	_, err = os.Stat(filepath.Join(dir, "model.sig"))
	assert.True(t, os.IsNotExist(err))
}
