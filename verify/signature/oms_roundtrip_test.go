package signature_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/blake2b"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// tamperCases change a signed model directory; each must be refused
// digest-mismatch whatever the serialization.
var tamperCases = map[string]func(t *testing.T, dir string){
	"one byte of the first shard": func(t *testing.T, dir string) { flip(t, filepath.Join(dir, "model.safetensors"), 0) },
	"one byte of a middle shard":  func(t *testing.T, dir string) { flip(t, filepath.Join(dir, "model.safetensors"), 5000) },
	"one byte of the last shard":  func(t *testing.T, dir string) { flip(t, filepath.Join(dir, "model.safetensors"), 9999) },
	"a renamed file": func(t *testing.T, dir string) {
		require.NoError(t, os.Rename(filepath.Join(dir, "sub", "config.json"), filepath.Join(dir, "sub", "config2.json")))
	},
	"an added file":       func(t *testing.T, dir string) { writeT(t, filepath.Join(dir, "extra.safetensors"), []byte("x")) },
	"an added empty file": func(t *testing.T, dir string) { writeT(t, filepath.Join(dir, "sub", "__init__.py"), nil) },
	"a removed file": func(t *testing.T, dir string) {
		require.NoError(t, os.Remove(filepath.Join(dir, "sub", "config.json")))
	},
	"a truncated file": func(t *testing.T, dir string) {
		require.NoError(t, os.Truncate(filepath.Join(dir, "model.safetensors"), 9000))
	},
}

func flip(t *testing.T, path string, off int64) {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[off] ^= 1
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func tamperModel(t *testing.T) string {
	dir := t.TempDir()
	w := make([]byte, 10000)
	for i := range w {
		w[i] = byte(i * 7)
	}
	writeT(t, filepath.Join(dir, "model.safetensors"), w)
	writeT(t, filepath.Join(dir, "sub", "config.json"), []byte(`{"a": 1}`))
	return dir
}

// TestSignedManifestsRefuseTampering signs a model with every
// serialization modelgate writes (files by sha256 and blake3, shards of
// 1 KiB and of 3 bytes), verifies it, and refuses each change.
func TestSignedManifestsRefuseTampering(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey))
	require.NoError(t, err)
	for _, opts := range []signature.SignOptions{{}, {Hash: verify.BLAKE3}, {Hash: verify.BLAKE2b}, {ShardSize: 1024}, {ShardSize: 3}, {Hash: verify.BLAKE2b, ShardSize: 1024}, {Hash: verify.BLAKE3, ShardSize: 1024}} {
		name := fmt.Sprintf("%s-shards-%d", opts.Hash, opts.ShardSize)
		t.Run(name, func(t *testing.T) {
			for what, tamper := range tamperCases {
				dir := tamperModel(t)
				b, err := signature.SignModel(context.Background(), dir, key, opts)
				require.NoError(t, err)
				writeT(t, filepath.Join(dir, "model.sig"), b)
				_, err = v.VerifyPath(context.Background(), dir)
				require.NoError(t, err)
				tamper(t, dir)
				_, err = v.VerifyPath(context.Background(), dir)
				if what == "an added empty file" && opts.ShardSize > 0 && opts.Hash != verify.BLAKE3 {
					// model_signing's shards record no empty file: one added
					// has no byte to check, and both verifiers accept it.
					assert.NoError(t, err, what)
					continue
				}
				assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), "%s: %v", what, err)
			}
		})
	}
}

// TestShardResourcesInModelSigningOrder: resources are listed, and the
// subject digest computed, in model_signing's manifest order, which sorts
// paths by component ("a/b" before "a.b") and shards by offset as a
// number (":9:12" before ":12:15").
func TestShardResourcesInModelSigningOrder(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	writeT(t, filepath.Join(dir, "a.b"), []byte("x"))
	writeT(t, filepath.Join(dir, "a", "b"), []byte("0123456789abcdef"))
	b, err := signature.SignModel(context.Background(), dir, key, signature.SignOptions{ShardSize: 3})
	require.NoError(t, err)
	var got golden
	require.NoError(t, json.Unmarshal(payloadOf(t, b), &got))
	var names []string
	h := sha256.New()
	for _, r := range got.Predicate.Resources {
		names = append(names, r.Name)
		d, _ := hex.DecodeString(r.Digest)
		h.Write(d)
	}
	assert.Equal(t, []string{"a/b:0:3", "a/b:3:6", "a/b:6:9", "a/b:9:12", "a/b:12:15", "a/b:15:16", "a.b:0:1"}, names)
	assert.Equal(t, hex.EncodeToString(h.Sum(nil)), got.Subject[0].Digest["sha256"])
	assert.Equal(t, "sha256-sharded-3", got.Predicate.Resources[0].Algorithm)
}

// blake2Statement is a model_signing statement for files hashed with
// BLAKE2b-512, as its BLAKE2 engine names them ("blake2b").
func blake2Statement(t *testing.T, hashType string, files map[string][]byte, names ...string) []byte {
	var resources []map[string]string
	h := sha256.New()
	for _, n := range names {
		d := blake2b.Sum512(files[n])
		resources = append(resources, map[string]string{"name": n, "algorithm": "blake2b", "digest": hex.EncodeToString(d[:])})
		h.Write(d[:])
	}
	b, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "m", "digest": map[string]string{"sha256": hex.EncodeToString(h.Sum(nil))}}},
		"predicateType": signature.PredicateOMSv1,
		"predicate": map[string]any{
			"serialization": map[string]any{"method": "files", "hash_type": hashType, "allow_symlinks": false},
			"resources":     resources,
		},
	})
	require.NoError(t, err)
	return b
}

// TestBLAKE2Manifests verifies model_signing's blake2 manifests (whose
// hash_type it writes as "blake2b", the engine's digest name, though its
// configuration calls the algorithm "blake2"), and refuses a change.
func TestBLAKE2Manifests(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey))
	require.NoError(t, err)
	onlyB3, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey), signature.WithDigestAlgorithms(verify.BLAKE3))
	require.NoError(t, err)
	for _, hashType := range []string{"blake2b", "blake2"} {
		dir := tamperModel(t)
		files := map[string][]byte{}
		for _, n := range []string{"model.safetensors", "sub/config.json"} {
			files[n], _ = os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		}
		writeT(t, filepath.Join(dir, "model.sig"), signStatement(t, key, blake2Statement(t, hashType, files, "model.safetensors", "sub/config.json")))
		_, err = v.VerifyPath(context.Background(), dir)
		require.NoError(t, err, hashType)
		_, err = onlyB3.VerifyPath(context.Background(), dir)
		assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "digest_algorithms refuses blake2b")
		flip(t, filepath.Join(dir, "model.safetensors"), 42)
		_, err = v.VerifyPath(context.Background(), dir)
		assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), hashType)
	}
}

// rawStatement builds a model_signing statement from a serialization and
// resources {name, algorithm, digest}; the subject digest is over the
// resources in order unless root is given.
func rawStatement(t *testing.T, serialization map[string]any, resources [][3]string, root string) []byte {
	var rs []map[string]string
	h := sha256.New()
	for _, r := range resources {
		rs = append(rs, map[string]string{"name": r[0], "algorithm": r[1], "digest": r[2]})
		d, _ := hex.DecodeString(r[2])
		h.Write(d)
	}
	if root == "" {
		root = hex.EncodeToString(h.Sum(nil))
	}
	b, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "m", "digest": map[string]string{"sha256": root}}},
		"predicateType": signature.PredicateOMSv1,
		"predicate":     map[string]any{"serialization": serialization, "resources": rs},
	})
	require.NoError(t, err)
	return b
}

// TestManifestRefusals: each way a signed manifest can disagree with
// model_signing's own format is refused with its kind, although the
// signature over it verifies.
func TestManifestRefusals(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	content := []byte("0123456789")
	writeT(t, filepath.Join(dir, "w.safetensors"), content)
	s := sha256.Sum256(content)
	sh := hex.EncodeToString(s[:])
	s3 := func(a, b int) string { d := sha256.Sum256(content[a:b]); return hex.EncodeToString(d[:]) }
	files := map[string]any{"method": "files", "hash_type": "sha256", "allow_symlinks": false}
	shards := func(size any) map[string]any {
		return map[string]any{"method": "shards", "hash_type": "sha256", "shard_size": size, "allow_symlinks": false}
	}
	good := [][3]string{{"w.safetensors:0:5", "sha256-sharded-5", s3(0, 5)}, {"w.safetensors:5:10", "sha256-sharded-5", s3(5, 10)}}
	for _, tc := range []struct {
		name          string
		serialization map[string]any
		resources     [][3]string
		root          string
		only          verify.Algorithm
		kind          formats.Kind
		msg           string
	}{
		{"hash type unknown", map[string]any{"method": "files", "hash_type": "md5"}, [][3]string{{"w.safetensors", "md5", sh}}, "", "", formats.KindUnsupported, `hash type "md5"`},
		{"serialization unknown", map[string]any{"method": "tensors", "hash_type": "sha256"}, nil, "", "", formats.KindUnsupported, `serialization "tensors"`},
		{"resource algorithm not the serialization's", shards(5), [][3]string{{"w.safetensors:0:5", "sha256", s3(0, 5)}, good[1]}, "", "", formats.KindSignatureInvalid, `records "sha256-sharded-5"`},
		{"shard size in the algorithm name differs", shards(5), [][3]string{{"w.safetensors:0:5", "sha256-sharded-50", s3(0, 5)}, good[1]}, "", "", formats.KindSignatureInvalid, "algorithm"},
		{"digest of another length", map[string]any{"method": "files", "hash_type": "blake2b"}, [][3]string{{"w.safetensors", "blake2b", sh}}, "", "", formats.KindSignatureInvalid, "not 128 hex digits"},
		{"subject digest over another order", shards(5), good, func() string {
			h := sha256.New()
			for _, r := range []string{good[1][2], good[0][2]} {
				d, _ := hex.DecodeString(r)
				h.Write(d)
			}
			return hex.EncodeToString(h.Sum(nil))
		}(), "", formats.KindSignatureInvalid, "inconsistent"},
		{"shard offset with a leading zero", shards(5), [][3]string{{"w.safetensors:00:5", "sha256-sharded-5", s3(0, 5)}, good[1]}, "", "", formats.KindSignatureInvalid, "not a shard"},
		{"shard ending before it starts", shards(5), [][3]string{{"w.safetensors:5:0", "sha256-sharded-5", s3(0, 5)}}, "", "", formats.KindSignatureInvalid, "not a shard"},
		{"shard without offsets", shards(5), [][3]string{{"w.safetensors", "sha256-sharded-5", sh}}, "", "", formats.KindSignatureInvalid, "not a shard"},
		{"shard of a path with a colon, which model_signing cannot split", shards(5), [][3]string{{"w:x:0:5", "sha256-sharded-5", s3(0, 5)}}, "", "", formats.KindSignatureInvalid, "not a shard"},
		{"negative shard offset", shards(5), [][3]string{{"w.safetensors:-5:0", "sha256-sharded-5", sh}}, "", "", formats.KindSignatureInvalid, "not a shard"},
		{"shard outside the model", shards(5), [][3]string{{"../w.safetensors:0:5", "sha256-sharded-5", s3(0, 5)}}, "", "", formats.KindPathTraversal, "clean path"},
		{"shard size zero", shards(0), good, "", "", formats.KindSignatureInvalid, "shard size"},
		{"shard size fractional", shards(2.5), good, "", "", formats.KindSignatureInvalid, "shard size"},
		{"shard size negative", shards(-5), good, "", "", formats.KindSignatureInvalid, "shard size"},
		{"shard size huge", shards(1e300), good, "", "", formats.KindSignatureInvalid, "shard size"},
		{"resource twice", files, [][3]string{{"w.safetensors", "sha256", sh}, {"w.safetensors", "sha256", sh}}, "", "", formats.KindSignatureInvalid, "listed twice"},
		{"shards that split the file otherwise", shards(5), [][3]string{{"w.safetensors:0:4", "sha256-sharded-5", s3(0, 4)}, {"w.safetensors:4:10", "sha256-sharded-5", s3(4, 10)}}, "", "", formats.KindDigestMismatch, "missing"},
		{"an algorithm the policy does not allow", files, [][3]string{{"w.safetensors", "sha256", sh}}, "", verify.BLAKE3, formats.KindNotAllowlisted, "only [blake3]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []signature.Option{signature.WithPublicKey("k", &key.PublicKey)}
			if tc.only != "" {
				opts = append(opts, signature.WithDigestAlgorithms(tc.only))
			}
			v, err := signature.NewVerifier(opts...)
			require.NoError(t, err)
			writeT(t, filepath.Join(dir, "model.sig"), signStatement(t, key, rawStatement(t, tc.serialization, tc.resources, tc.root)))
			_, err = v.VerifyPath(context.Background(), dir)
			require.Error(t, err)
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	// The same manifest, well formed, verifies.
	v, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey))
	require.NoError(t, err)
	writeT(t, filepath.Join(dir, "model.sig"), signStatement(t, key, rawStatement(t, shards(5.0), good, "")))
	_, err = v.VerifyPath(context.Background(), dir)
	assert.NoError(t, err)
}

// TestBLAKE3ShardsManifestIsAFilesManifest: model_signing's
// use_shard_serialization hashes BLAKE3 by whole files (BLAKE3 is
// parallel already), so a "shards" manifest by blake3 lists files, and
// verifies as one.
func TestBLAKE3ShardsManifestIsAFilesManifest(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey))
	require.NoError(t, err)
	dir := tamperModel(t)
	var res [][3]string
	for _, n := range []string{"model.safetensors", "sub/config.json"} {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		require.NoError(t, err)
		d, err := verify.BLAKE3.Sum(context.Background(), bytesReader(b), int64(len(b)), nil)
		require.NoError(t, err)
		res = append(res, [3]string{n, "blake3", hex.EncodeToString(d)})
	}
	st := rawStatement(t, map[string]any{"method": "shards", "hash_type": "blake3", "shard_size": 1000000000, "allow_symlinks": false}, res, "")
	writeT(t, filepath.Join(dir, "model.sig"), signStatement(t, key, st))
	_, err = v.VerifyPath(context.Background(), dir)
	require.NoError(t, err)
	flip(t, filepath.Join(dir, "model.safetensors"), 7)
	_, err = v.VerifyPath(context.Background(), dir)
	assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err))
}

// TestSigningShardsRefusesAColonInAName: model_signing splits a shard name
// on every colon, so it could not read back a shard of "a:b".
func TestSigningShardsRefusesAColonInAName(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	writeT(t, filepath.Join(dir, "a:b.safetensors"), []byte("x"))
	_, err := signature.SignModel(context.Background(), dir, key, signature.SignOptions{ShardSize: 8})
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%v", err)
	_, err = signature.SignModel(context.Background(), dir, key, signature.SignOptions{})
	assert.NoError(t, err, "the files serialization names it whole")
}

// TestSignOptionsRefused: what SignModel cannot write as model_signing
// writes it is refused unsupported before anything is hashed.
func TestSignOptionsRefused(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := tamperModel(t)
	for name, opts := range map[string]signature.SignOptions{
		"unknown algorithm": {Hash: "md5"},
		"negative shards":   {ShardSize: -1},
	} {
		_, err := signature.SignModel(context.Background(), dir, key, opts)
		assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%s: %v", name, err)
	}
}

// TestListModelRefusesSpecialFiles: a model given as a FIFO is refused
// unsupported, never opened for reading.
func TestListModelRefusesSpecialFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	_, err := verify.ListModel(p)
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%v", err)
}
