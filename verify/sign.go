package verify

import (
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

	"github.com/modelgate/modelgate/formats"
)

// LoadPrivateKeyFile reads a PEM private key (PKCS#8, SEC 1 EC or PKCS#1
// RSA; unencrypted) for SignModel.
func LoadPrivateKeyFile(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			return nil, formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "no unencrypted PEM private key"), path)
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

// SignModel signs the model at path (a directory or a file) in the OpenSSF
// Model Signing v1.0 format with a local key, as model_signing's key
// method does: a DSSE envelope over an in-toto statement listing every
// file's SHA-256 ("files" serialization), the key named by the hint
// sha256(PEM of its public key). ignore adds to DefaultIgnorePaths. It
// returns the bundle JSON, to be written to model.sig.
func SignModel(ctx context.Context, path string, key crypto.Signer, ignore []string) ([]byte, error) {
	md, err := DigestModel(ctx, path)
	if err != nil {
		return nil, err
	}
	ignore = append(slices.Clone(DefaultIgnorePaths), ignore...)
	res, err := actualResources(ctx, md, &manifest{method: "files"}, ignore)
	if err != nil {
		return nil, err
	}
	payload, err := statementFor(filepath.Base(filepath.Clean(path)), res, ignore)
	if err != nil {
		return nil, err
	}
	sig, err := signRaw(key, pae(inTotoPayloadType, payload))
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(map[string]any{
		"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": map[string]any{
			"publicKey":   map[string]string{"hint": keyHints(der)[1]},
			"tlogEntries": []any{},
		},
		"dsseEnvelope": map[string]any{
			"payload":     b64(payload),
			"payloadType": inTotoPayloadType,
			"signatures":  []map[string]string{{"sig": b64(sig), "keyid": ""}},
		},
	}, "", "  ")
}

func statementFor(subject string, res map[string]string, ignore []string) ([]byte, error) {
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	slices.Sort(names)
	resources := make([]resource, len(names))
	for i, n := range names {
		resources[i] = resource{Name: n, Algorithm: "sha256", Digest: res[n]}
	}
	return json.MarshalIndent(map[string]any{
		"_type":         inTotoStatementV1,
		"subject":       []any{map[string]any{"name": subject, "digest": map[string]string{"sha256": rootDigest(res)}}},
		"predicateType": PredicateOMSv1,
		"predicate": map[string]any{
			"serialization": map[string]any{"method": "files", "hash_type": "sha256", "allow_symlinks": false, "ignore_paths": ignore},
			"resources":     resources,
		},
	}, "", "  ")
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
