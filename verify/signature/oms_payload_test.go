package signature_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/testvectors"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// payloadFixtures rebuilds model_signing's pytest fixture models
// (tests/conftest.py, as the vectors' PROVENANCE.md describes them) and
// returns the model path for each golden's base name.
func payloadFixtures(t *testing.T) map[string]string {
	dir := t.TempDir()
	w := func(rel, content string) string {
		return writeT(t, filepath.Join(dir, filepath.FromSlash(rel)), []byte(content))
	}
	out := map[string]string{
		"sample_model_file": w("file/file_model", "This is a simple model"),
		"empty_model_file":  w("empty/empty_file_model", ""),
	}
	for i := range 2 {
		for j := range 3 {
			w(fmt.Sprintf("sample_model/d%d/f%d%d", i, i, j), fmt.Sprintf("This is file f%d%d in d%d.", i, j, i))
		}
	}
	for i := range 4 {
		w(fmt.Sprintf("sample_model/f%d", i), fmt.Sprintf("This is file f%d in root.", i))
		w(fmt.Sprintf("deep_model/d0/d1/d2/d3/d4/f%d", i), fmt.Sprintf("This is file f%d.", i))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "empty_folder_model"), 0o755))
	w("empty_file_inside_model/empty_file", "")
	out["sample_model_folder"] = filepath.Join(dir, "sample_model")
	out["deep_model_folder"] = filepath.Join(dir, "deep_model")
	out["empty_model_folder"] = filepath.Join(dir, "empty_folder_model")
	out["model_folder_with_empty_file"] = filepath.Join(dir, "empty_file_inside_model")
	return out
}

// golden is the part of model_signing's statement a verifier depends on.
type golden struct {
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate struct {
		Serialization struct {
			Method    string  `json:"method"`
			HashType  string  `json:"hash_type"`
			ShardSize float64 `json:"shard_size"`
		} `json:"serialization"`
		Resources []struct {
			Name      string `json:"name"`
			Algorithm string `json:"algorithm"`
			Digest    string `json:"digest"`
		} `json:"resources"`
	} `json:"predicate"`
}

// goldenSuffixes are the serializations of model_signing's payload goldens.
var goldenSuffixes = map[string]signature.SignOptions{"": {}, "_shard": {ShardSize: 1000000000}, "_small_shards": {ShardSize: 8}}

func payloadOf(t *testing.T, bundle []byte) []byte {
	var b struct {
		DSSEEnvelope struct {
			Payload string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	require.NoError(t, json.Unmarshal(bundle, &b))
	p, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload)
	require.NoError(t, err)
	return p
}

// TestSigningWritesModelSigningPayloads signs model_signing's fixture
// models and compares the statements with its own goldens
// (tests/_signing/testdata/signing/TestPayload): the subject, the
// serialization, and every resource in order, for files, shards of 1 GB
// and shards of 8 bytes. ignore_paths is left out: the goldens predate it.
func TestSigningWritesModelSigningPayloads(t *testing.T) {
	dir := filepath.Join(testvectors.Dir(t, "model-transparency"), "tests/_signing/testdata/signing/TestPayload")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	models := payloadFixtures(t)
	n := 0
	for base, model := range models {
		for suffix, opts := range goldenSuffixes {
			t.Run(base+suffix, func(t *testing.T) {
				b, err := os.ReadFile(filepath.Join(dir, base+suffix))
				require.NoError(t, err)
				var want, got golden
				require.NoError(t, json.Unmarshal(b, &want))
				bundle, err := signature.SignModel(context.Background(), model, key, opts)
				require.NoError(t, err)
				require.NoError(t, json.Unmarshal(payloadOf(t, bundle), &got))
				assert.Equal(t, want, got)
				n++
			})
		}
	}
	assert.Equal(t, 18, n, "every golden but the symbolic-link ones (modelgate refuses links)")
}

// signStatement wraps an in-toto statement in a model_signing key bundle.
func signStatement(t *testing.T, key *ecdsa.PrivateKey, statement []byte) []byte {
	const typ = "application/vnd.in-toto+json"
	pae := fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(typ), typ, len(statement), statement)
	h := sha256.Sum256(pae)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	require.NoError(t, err)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	b, err := json.Marshal(map[string]any{
		"mediaType":            "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": map[string]any{"publicKey": map[string]string{"hint": fmt.Sprintf("%x", sha256.Sum256(der))}, "tlogEntries": []any{}},
		"dsseEnvelope": map[string]any{
			"payload": base64.StdEncoding.EncodeToString(statement), "payloadType": typ,
			"signatures": []map[string]string{{"sig": base64.StdEncoding.EncodeToString(sig), "keyid": ""}},
		},
	})
	require.NoError(t, err)
	return b
}

// TestModelSigningPayloadsVerify signs each of model_signing's golden
// statements as it stands (shard_size 8.0 included) and verifies it
// against the fixture model. Under shards model_signing records no empty
// file, and a model holding one verifies as model_signing verifies it,
// whether or not it is ignored.
func TestModelSigningPayloadsVerify(t *testing.T) {
	dir := filepath.Join(testvectors.Dir(t, "model-transparency"), "tests/_signing/testdata/signing/TestPayload")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey))
	require.NoError(t, err)
	ignoring, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey), signature.WithIgnorePaths("empty_file"))
	require.NoError(t, err)
	for base, model := range payloadFixtures(t) {
		for suffix := range goldenSuffixes {
			t.Run(base+suffix, func(t *testing.T) {
				st, err := os.ReadFile(filepath.Join(dir, base+suffix))
				require.NoError(t, err)
				sig := filepath.Join(t.TempDir(), "model.sig")
				writeT(t, sig, signStatement(t, key, st))
				md, err := verify.ListModel(model)
				require.NoError(t, err)
				md.Bundle = sig
				_, err = v.VerifyModel(context.Background(), md)
				require.NoError(t, err)
				if suffix != "" && base == "model_folder_with_empty_file" {
					_, err = ignoring.VerifyModel(context.Background(), md)
					assert.NoError(t, err, "ignored, the empty file need not be covered")
				}
			})
		}
	}
}
