package signature_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

var mldsaSchemes = map[string]sign.Scheme{"ML_DSA_44": mldsa44.Scheme(), "ML_DSA_65": mldsa65.Scheme(), "ML_DSA_87": mldsa87.Scheme()}

// rawKeys writes an ML-DSA key pair as model_signing stores one: raw
// FIPS 204 encodings.
func rawKeys(t *testing.T, dir, variant string) (priv, pub string, sk sign.PrivateKey, pkRaw []byte) {
	pk, sk, err := mldsaSchemes[variant].GenerateKey()
	require.NoError(t, err)
	pkRaw, _ = pk.MarshalBinary()
	skRaw, _ := sk.MarshalBinary()
	return writeT(t, filepath.Join(dir, variant+".priv"), skRaw), writeT(t, filepath.Join(dir, variant+".pub"), pkRaw), sk, pkRaw
}

// mldsaBundle builds a bundle as model_signing's ML-DSA signer does
// (sign_ml_dsa.py): ML-DSA over the PAE given, the hint VARIANT:sha256 of
// the raw key, an empty keyid, no log entries.
func mldsaBundle(t *testing.T, scheme sign.Scheme, sk sign.PrivateKey, hint string, msg, statement []byte, extra map[string]any) []byte {
	vm := map[string]any{"publicKey": map[string]string{"hint": hint}, "tlogEntries": []any{}}
	for k, v := range extra {
		vm[k] = v
	}
	b, err := json.Marshal(map[string]any{
		"mediaType":            "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": vm,
		"dsseEnvelope": map[string]any{
			"payload": base64.StdEncoding.EncodeToString(statement), "payloadType": "application/vnd.in-toto+json",
			"signatures": []map[string]string{{"sig": base64.StdEncoding.EncodeToString(scheme.Sign(sk, msg, nil)), "keyid": ""}},
		},
	})
	require.NoError(t, err)
	return b
}

func dssePAE(statement []byte) []byte {
	const typ = "application/vnd.in-toto+json"
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(typ), typ, len(statement), statement)
}

// TestMLDSASignAndVerify signs with each ML-DSA variant through
// SignModel and LoadPrivateKeyFile (raw keys, as model_signing keeps
// them), verifies with the raw public key, and refuses a changed file and
// another key.
func TestMLDSASignAndVerify(t *testing.T) {
	kd := t.TempDir()
	for variant := range mldsaSchemes {
		t.Run(variant, func(t *testing.T) {
			priv, pub, _, _ := rawKeys(t, kd, variant)
			signer, err := signature.LoadPrivateKeyFile(priv)
			require.NoError(t, err)
			dir := tamperModel(t)
			b, err := signature.SignModel(context.Background(), dir, signer, signature.SignOptions{Hash: verify.BLAKE3})
			require.NoError(t, err)
			writeT(t, filepath.Join(dir, "model.sig"), b)
			v, err := signature.NewVerifier(signature.WithPublicKeyFile(pub))
			require.NoError(t, err)
			who, err := v.VerifyPath(context.Background(), dir)
			require.NoError(t, err)
			assert.Equal(t, "key "+variant+".pub ("+variant+")", who)

			_, otherPub, _, _ := rawKeys(t, t.TempDir(), variant)
			w, err := signature.NewVerifier(signature.WithPublicKeyFile(otherPub))
			require.NoError(t, err)
			_, err = w.VerifyPath(context.Background(), dir)
			assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "another key: %v", err)

			flip(t, filepath.Join(dir, "model.safetensors"), 1)
			_, err = v.VerifyPath(context.Background(), dir)
			assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err))
		})
	}
}

// pythonCompatPAE is model_signing's pae_compat, computed by Python: the
// payload's bytes repr in an f-string.
func pythonCompatPAE(t *testing.T, statement []byte) []byte {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is not installed")
		}
		t.Skip("python3 is not installed")
	}
	script := `import sys; p = sys.stdin.buffer.read(); t = "application/vnd.in-toto+json"; sys.stdout.buffer.write(f"DSSEV1 {len(t)} {t} {len(p)} {p}".encode())`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytesReader(statement)
	out, err := cmd.Output()
	require.NoError(t, err)
	return out
}

// TestMLDSABundlesAsModelSigningWritesThem verifies bundles built as
// sign_ml_dsa.py builds them, over model_signing's own golden statement,
// with the standard PAE and with the 0.2 PAE its verifier falls back to;
// and refuses every other form with its kind.
func TestMLDSABundlesAsModelSigningWritesThem(t *testing.T) {
	scheme := mldsaSchemes["ML_DSA_65"]
	_, pub, sk, pkRaw := rawKeys(t, t.TempDir(), "ML_DSA_65")
	sum := sha256.Sum256(pkRaw)
	hint := "ML_DSA_65:" + hex.EncodeToString(sum[:])
	dir := tamperModel(t)
	key := func() []byte { b, _ := os.ReadFile(pub); return b }()
	st := rawStatement(t, map[string]any{"method": "files", "hash_type": "sha256", "allow_symlinks": false},
		[][3]string{{"model.safetensors", "sha256", fileSHA(t, filepath.Join(dir, "model.safetensors"))}, {"sub/config.json", "sha256", fileSHA(t, filepath.Join(dir, "sub", "config.json"))}}, "")
	v, err := signature.NewVerifier(signature.WithMLDSAPublicKey("release", key))
	require.NoError(t, err)
	check := func(bundle []byte) error {
		writeT(t, filepath.Join(dir, "model.sig"), bundle)
		_, err := v.VerifyPath(context.Background(), dir)
		return err
	}
	require.NoError(t, check(mldsaBundle(t, scheme, sk, hint, dssePAE(st), st, nil)), "standard PAE")
	require.NoError(t, check(mldsaBundle(t, scheme, sk, hint, pythonCompatPAE(t, st), st, nil)), "model_signing's 0.2 PAE")
	require.NoError(t, check(mldsaBundle(t, scheme, sk, "", dssePAE(st), st, nil)), "no hint: any allowed ML-DSA key")

	other := rawStatement(t, map[string]any{"method": "files", "hash_type": "sha256"}, [][3]string{{"model.safetensors", "sha256", fileSHA(t, filepath.Join(dir, "sub", "config.json"))}}, "")
	for _, tc := range []struct {
		name   string
		bundle []byte
		kind   formats.Kind
	}{
		{"signature over another statement", mldsaBundle(t, scheme, sk, hint, dssePAE(other), st, nil), formats.KindSignatureInvalid},
		{"hint names the key as another variant", mldsaBundle(t, scheme, sk, "ML_DSA_87:"+hex.EncodeToString(sum[:]), dssePAE(st), st, nil), formats.KindSignatureInvalid},
		{"hint names a key not allowed", mldsaBundle(t, scheme, sk, "ML_DSA_65:"+hex.EncodeToString(make([]byte, 32)), dssePAE(st), st, nil), formats.KindNotAllowlisted},
		{"hint with the digest in capitals, which model_signing compares as written", mldsaBundle(t, scheme, sk, "ML_DSA_65:"+strings.ToUpper(hex.EncodeToString(sum[:])), dssePAE(st), st, nil), formats.KindNotAllowlisted},
		{"hint without a digest", mldsaBundle(t, scheme, sk, "ML_DSA_65", dssePAE(st), st, nil), formats.KindSignatureInvalid},
		{"log entries model_signing never writes", mldsaBundle(t, scheme, sk, hint, dssePAE(st), st, map[string]any{"tlogEntries": []any{map[string]any{"logIndex": "1"}}}), formats.KindSignatureInvalid},
		{"a statement the signature covers but the model does not match", mldsaBundle(t, scheme, sk, hint, dssePAE(other), other, nil), formats.KindDigestMismatch},
	} {
		assert.Equal(t, tc.kind, formats.KindOf(check(tc.bundle)), tc.name)
	}
	noMLDSA, err := signature.NewVerifier(signature.WithPublicKey("ec", mustECKey(t)))
	require.NoError(t, err)
	writeT(t, filepath.Join(dir, "model.sig"), mldsaBundle(t, scheme, sk, hint, dssePAE(st), st, nil))
	_, err = noMLDSA.VerifyPath(context.Background(), dir)
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "no ML-DSA key is allowed")
	var ns *signature.NoSignerError
	assert.ErrorAs(t, err, &ns)
}

func TestMLDSAKeyFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		kind          formats.Kind
	}{
		{"encrypted private key", "MLDSA-ENC-V1" + string(make([]byte, 60)), formats.KindUnsupported},
		{"wrong length", string(make([]byte, 1000)), formats.KindMalformed},
	} {
		p := writeT(t, filepath.Join(dir, tc.name), []byte(tc.content))
		_, err := signature.LoadPrivateKeyFile(p)
		assert.Equal(t, tc.kind, formats.KindOf(err), tc.name)
	}
	_, err := signature.NewVerifier(signature.WithMLDSAPublicKey("k", make([]byte, 1000)))
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err))
}

func fileSHA(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustECKey(t *testing.T) *ecdsa.PublicKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return &k.PublicKey
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// BenchmarkMLDSAVerify verifies one ML-DSA-65 signature over a 2 KB
// statement's PAE, the cost an ML-DSA bundle adds to hashing.
func BenchmarkMLDSAVerify(b *testing.B) {
	s := mldsaSchemes["ML_DSA_65"]
	pk, sk, err := s.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 2000)
	sig := s.Sign(sk, msg, nil)
	for b.Loop() {
		if !s.Verify(pk, msg, sig, nil) {
			b.Fatal("does not verify")
		}
	}
}
