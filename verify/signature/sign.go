package signature

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
)

// LoadPrivateKeyFile reads a PEM private key (PKCS#8, SEC 1 EC or PKCS#1
// RSA; unencrypted) for SignModel, or a raw ML-DSA-44/65/87 private key
// as model_signing's ML-DSA method stores one (unencrypted).
func LoadPrivateKeyFile(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			k, err := parseMLDSAPrivateKey(b)
			return k, formats.WithPath(err, path)
		}
		var key any
		switch blk.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "private key: %v", err), path)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "key type %T cannot sign", key), path)
		}
		return s, nil
	}
}

// SignOptions say how SignModel hashes a model and names its signer.
type SignOptions struct {
	// Hash is SHA256 (the default), BLAKE2b or BLAKE3.
	Hash verify.Algorithm
	// ShardSize, when positive, selects model_signing's "shards"
	// serialization: each file hashed in pieces of ShardSize bytes, in
	// parallel. With BLAKE3 the files serialization is written whatever
	// the size, as model_signing writes it (BLAKE3 splits a file across
	// the cores itself).
	ShardSize int64
	// IgnorePaths are left out of the manifest, whatever they hold, and
	// listed in its ignore_paths, beside DefaultIgnorePaths.
	IgnorePaths []string
	// Certificate, when set, is the signing key's certificate: the bundle
	// then carries it and Chain (model_signing's certificate method)
	// instead of naming the key.
	Certificate *x509.Certificate
	// Chain are the certificates between Certificate and its root (the
	// root may be included), in order.
	Chain []*x509.Certificate
	// Bundle is where the bundle will be written; when inside the model it
	// is recorded in ignore_paths, as model_signing's CLI records its
	// signature. "" means model.sig inside the model directory.
	Bundle string
	// Revision picks a Hugging Face cache repository folder's snapshot.
	Revision string
}

// SignModel signs the model at path (a directory or a file) in the OpenSSF
// Model Signing v1.0 format with a local key, as model_signing's key and
// certificate methods do: a DSSE envelope over an in-toto statement
// listing the digest of every file (or shard), the key named by the hint
// sha256(PEM of its public key), or by its certificate and chain. It
// returns the bundle JSON, to be written to model.sig.
//
// What it writes, model_signing's verifier reads: shard_size is an
// integer (model_signing writes a float, which its own verifier cannot
// use), BLAKE2b's hash_type is "blake2" (the name its configuration
// takes), and under shards an empty file has no resource, as
// model_signing records none.
func SignModel(ctx context.Context, path string, key crypto.Signer, opts SignOptions) ([]byte, error) {
	m := &manifest{method: "files", alg: cmp.Or(opts.Hash, verify.SHA256)}
	switch {
	case m.alg != verify.SHA256 && m.alg != verify.BLAKE2b && m.alg != verify.BLAKE3:
		return nil, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "modelgate signs with sha256, blake2 or blake3, not %s", m.alg)
	case opts.ShardSize < 0:
		return nil, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "shard size %d is negative", opts.ShardSize)
	case opts.ShardSize > 0 && m.alg != verify.BLAKE3:
		// model_signing hashes BLAKE3 by files whatever the shard size
		// (BLAKE3 splits each file across the cores itself), and so does
		// modelgate.
		m.method, m.shardSize = "shards", opts.ShardSize
	}
	md, err := verify.ListModelRevision(path, opts.Revision)
	if err != nil {
		return nil, err
	}
	ignore := append(slices.Clone(DefaultIgnorePaths), opts.IgnorePaths...)
	for _, d := range md.VCS { // left out by the walker: say so, for model_signing
		if !slices.Contains(ignore, d) {
			ignore = append(ignore, d)
		}
	}
	bundle := signedBundle(md, opts.Bundle)
	if bundle != "" && !md.Single {
		ignore = append(ignore, bundle)
	}
	// What the signer names is left out whatever it holds, as
	// model_signing leaves it out (a verifier refuses a model whose
	// ignore paths leave out weights); the default paths only when inert;
	// the bundle being written, always.
	skip := func(f verify.FileDigest) bool {
		return !md.Single && f.Name == bundle || ignored(f.Name, opts.IgnorePaths) || f.Inert && ignored(f.Name, DefaultIgnorePaths)
	}
	if m.method == "shards" {
		for _, f := range md.Files {
			if strings.Contains(f.Name, ":") && !skip(f) {
				return nil, formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "a shard of a file whose name holds a colon cannot be named so that model_signing reads it back"), f.Name)
			}
		}
	}
	res, err := actualResources(ctx, md, m, skip)
	if err != nil {
		return nil, err
	}
	payload, err := statementFor(filepath.Base(filepath.Clean(path)), m, res, ignore)
	if err != nil {
		return nil, err
	}
	sig, hint, err := signPayload(key, payload)
	if err != nil {
		return nil, err
	}
	material := map[string]any{"publicKey": map[string]string{"hint": hint}, "tlogEntries": []any{}}
	if c := opts.Certificate; c != nil {
		if !publicKeysEqual(c.PublicKey, key.Public()) {
			return nil, formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, "the signing certificate is not the key's (its public key differs)")
		}
		var chain []map[string]string
		for _, c := range append([]*x509.Certificate{c}, opts.Chain...) {
			chain = append(chain, map[string]string{"rawBytes": b64(c.Raw)})
		}
		material = map[string]any{"x509CertificateChain": map[string]any{"certificates": chain}, "tlogEntries": []any{}}
	}
	return json.MarshalIndent(map[string]any{
		"mediaType":            "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": material,
		"dsseEnvelope": map[string]any{
			"payload":     b64(payload),
			"payloadType": inTotoPayloadType,
			"signatures":  []map[string]string{{"sig": b64(sig), "keyid": ""}},
		},
	}, "", "  ")
}

// publicKeysEqual reports whether two public keys are the same key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// signedBundle is the bundle's name relative to the model directory when
// it lies inside it, else "".
func signedBundle(md *verify.ModelDigests, bundle string) string {
	if bundle == "" {
		return defaultBundleName
	}
	absRoot, err1 := filepath.Abs(md.Root)
	absB, err2 := filepath.Abs(bundle)
	if err1 != nil || err2 != nil {
		return ""
	}
	if rel, err := filepath.Rel(absRoot, absB); err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	return ""
}

// statementFor writes the in-toto statement model_signing signs: the
// resources in its manifest's order, and the subject digest over them in
// that order.
func statementFor(subject string, m *manifest, res map[string]string, ignore []string) ([]byte, error) {
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	names = canonicalOrder(names, m.method == "shards")
	resources := make([]resource, len(names))
	for i, n := range names {
		resources[i] = resource{Name: n, Algorithm: m.resourceAlgorithm(), Digest: res[n]}
	}
	serialization := map[string]any{"method": m.method, "hash_type": m.hashType(), "allow_symlinks": false, "ignore_paths": ignore}
	if m.method == "shards" {
		serialization["shard_size"] = m.shardSize
	}
	return json.MarshalIndent(map[string]any{
		"_type":         inTotoStatementV1,
		"subject":       []any{map[string]any{"name": subject, "digest": map[string]string{"sha256": rootDigest(names, res)}}},
		"predicateType": PredicateOMSv1,
		"predicate": map[string]any{
			"serialization": serialization,
			"resources":     resources,
		},
	}, "", "  ")
}

// signPayload signs the DSSE PAE of an in-toto payload and names the key
// as model_signing does: sha256 of its PEM, or for ML-DSA (FIPS 204,
// empty context) its variant and the sha256 of the raw key.
func signPayload(key crypto.Signer, payload []byte) (sig []byte, hint string, err error) {
	msg := pae(inTotoPayloadType, payload)
	if sk, k, ok := mldsaPublic(key); ok {
		return k.scheme.Sign(sk, msg, nil), k.variant + ":" + k.hash, nil
	}
	if sig, err = signRaw(key, msg); err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, "", err
	}
	return sig, keyHints(der)[1], nil
}

// signRaw signs msg as verifyRaw verifies it.
func signRaw(key crypto.Signer, msg []byte) ([]byte, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, k, digestOf(curveHash(k.Curve), msg))
	case ed25519.PrivateKey:
		return ed25519.Sign(k, msg), nil
	case *rsa.PrivateKey:
		return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digestOf(crypto.SHA256, msg))
	}
	return nil, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "cannot sign with a %T key", key)
}
