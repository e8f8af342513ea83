package loader_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

var ctx = context.Background()

func writeFile(t testing.TB, p string, b []byte) {
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b, 0o644))
}

// stFile makes a safetensors file with one U8 tensor per name.
func stFile(t testing.TB, dtype formats.DType, names ...string) []byte {
	var ts []safetensors.Tensor
	for i, n := range names {
		size, err := formats.DataSize(dtype, []int64{4}, formats.DefaultLimits(), 0)
		require.Nil(t, err)
		ts = append(ts, safetensors.Tensor{Name: n, DType: dtype, Shape: []int64{4}, Data: bytes.NewReader(bytes.Repeat([]byte{byte(i + 1)}, int(size)))})
	}
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, ts, map[string]string{"format": "pt"}))
	return buf.Bytes()
}

func index(weightMap map[string]string) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 12}, "weight_map": weightMap})
	return b
}

// sharded lays out a 3-shard checkpoint with an index.
func sharded(t testing.TB) string {
	dir := t.TempDir()
	wm := map[string]string{}
	for i, names := range [][]string{{"a", "b"}, {"c"}, {"d", "e"}} {
		shard := fmt.Sprintf("model-%05d-of-00003.safetensors", i+1)
		writeFile(t, filepath.Join(dir, shard), stFile(t, formats.F16, names...))
		for _, n := range names {
			wm[n] = shard
		}
	}
	writeFile(t, filepath.Join(dir, "model.safetensors.index.json"), index(wm))
	writeFile(t, filepath.Join(dir, "config.json"), []byte(`{"model_type": "mlp"}`))
	return dir
}

func TestOpenSingleFileModes(t *testing.T) {
	p := filepath.Join("..", "testdata", "safetensors", "tiny-mlp.safetensors")
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	for _, mode := range []loader.Mode{loader.ModeMap, loader.ModeReadAt, loader.ModePrivateCopy} {
		m, err := loader.Open(ctx, p, loader.WithMode(mode))
		require.NoError(t, err)
		require.Len(t, m.Files, 1)
		assert.Equal(t, "tiny-mlp.safetensors", m.Files[0].Name)
		assert.Len(t, m.Tensors, 6)
		tt, ok := m.Tensor("layers.0.weight")
		require.True(t, ok)
		sr, err := m.Section("layers.0.weight")
		require.NoError(t, err)
		got, _ := io.ReadAll(sr)
		assert.Equal(t, raw[tt.Offset:tt.Offset+tt.Size], got)
		b, err := m.Bytes("layers.0.weight")
		if mode == loader.ModeReadAt {
			assert.Error(t, err)
		} else {
			require.NoError(t, err)
			assert.Equal(t, got, b)
		}
		_, err = m.Bytes("nope")
		assert.Error(t, err)
		require.NoError(t, m.Close())
	}
}

func TestOpenSharded(t *testing.T) {
	dir := sharded(t)
	m, err := loader.Open(ctx, dir)
	require.NoError(t, err)
	defer m.Close()
	assert.Len(t, m.Files, 3)
	assert.Len(t, m.Tensors, 5)
	d, ok := m.Tensor("d")
	require.True(t, ok)
	assert.Equal(t, "model-00003-of-00003.safetensors", d.File)
	b, err := m.Bytes("d")
	require.NoError(t, err)
	assert.Equal(t, bytes.Repeat([]byte{1}, 8), b)
	assert.Contains(t, m.Verified.Ignored, "config.json: text file, not model weights")
}

func TestOpenShardedRefusals(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "evil.safetensors"), stFile(t, formats.U8, "x"))
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		kind  formats.Kind
		msg   string
	}{
		{"traversal", func(dir string) {
			writeFile(t, filepath.Join(dir, "model.safetensors.index.json"), index(map[string]string{"x": "../" + filepath.Base(outside) + "/evil.safetensors"}))
		}, formats.KindPathTraversal, "not a clean path"},
		{"absolute", func(dir string) {
			writeFile(t, filepath.Join(dir, "model.safetensors.index.json"), index(map[string]string{"x": filepath.Join(outside, "evil.safetensors")}))
		}, formats.KindPathTraversal, "not a clean path"},
		{"symlink escape", func(dir string) {
			require.NoError(t, os.Symlink(filepath.Join(outside, "evil.safetensors"), filepath.Join(dir, "link.safetensors")))
			writeFile(t, filepath.Join(dir, "model.safetensors.index.json"), index(map[string]string{"x": "link.safetensors"}))
		}, formats.KindPathTraversal, "link.safetensors"},
		{"missing shard", func(dir string) {
			os.Remove(filepath.Join(dir, "model-00002-of-00003.safetensors"))
		}, formats.KindMalformed, "does not exist"},
		{"duplicate tensor across shards", func(dir string) {
			writeFile(t, filepath.Join(dir, "model-00002-of-00003.safetensors"), stFile(t, formats.F16, "c", "a"))
		}, formats.KindMalformed, `tensor "a" is also in`},
		{"tensor in another shard", func(dir string) {
			writeFile(t, filepath.Join(dir, "model-00002-of-00003.safetensors"), stFile(t, formats.F16, "z"))
			writeFile(t, filepath.Join(dir, "model-00003-of-00003.safetensors"), stFile(t, formats.F16, "d", "e", "c"))
		}, formats.KindMalformed, `index puts tensor "c" in model-00002-of-00003.safetensors, but it is in model-00003`},
		{"tensor not in index", func(dir string) {
			writeFile(t, filepath.Join(dir, "model-00002-of-00003.safetensors"), stFile(t, formats.F16, "c", "extra"))
		}, formats.KindMalformed, `"extra" of model-00002-of-00003.safetensors is not in the index`},
		{"duplicate index key", func(dir string) {
			writeFile(t, filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": {"a": "model-00001-of-00003.safetensors", "a": "model-00002-of-00003.safetensors"}}`))
		}, formats.KindMalformed, "listed twice"},
		{"unknown index key", func(dir string) {
			writeFile(t, filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": {}, "loader": "pickle"}`))
		}, formats.KindMalformed, "unknown key"},
		{"two indexes", func(dir string) {
			writeFile(t, filepath.Join(dir, "other.safetensors.index.json"), index(map[string]string{}))
		}, formats.KindUnsupported, "indexes"},
		{"pickle beside", func(dir string) {
			writeFile(t, filepath.Join(dir, "pytorch_model.bin"), testdata(t, "pickle/torch-zip.pt"))
		}, formats.KindPickle, "pytorch_model.bin"},
		{"unknown binary beside", func(dir string) {
			writeFile(t, filepath.Join(dir, "blob"), []byte{0, 1, 2, 0xff})
		}, formats.KindUnknownFormat, "blob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := sharded(t)
			tc.setup(dir)
			_, err := loader.Open(ctx, dir)
			require.Error(t, err)
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestOpenWithRootAllowsLinksInside(t *testing.T) {
	// A Hugging Face cache: snapshots/<rev>/model.safetensors -> ../../blobs/<sha>.
	cache := t.TempDir()
	writeFile(t, filepath.Join(cache, "blobs", "abc"), stFile(t, formats.U8, "w"))
	snap := filepath.Join(cache, "snapshots", "rev")
	require.NoError(t, os.MkdirAll(snap, 0o755))
	require.NoError(t, os.Symlink("../../blobs/abc", filepath.Join(snap, "model.safetensors")))
	_, err := loader.Open(ctx, snap)
	assert.Equal(t, formats.KindPathTraversal, formats.KindOf(err), "the snapshot alone cannot reach the blobs")
	m, err := loader.Open(ctx, snap, loader.WithRoot(cache))
	require.NoError(t, err)
	m.Close()
	_, err = loader.Open(ctx, cache, loader.WithRoot(snap))
	assert.Equal(t, formats.KindPathTraversal, formats.KindOf(err), "the model must lie inside the root")
}

func sha(b []byte) verify.Digest { return verify.Digest(sha256.Sum256(b)) }

func TestOpenDigests(t *testing.T) {
	dir := t.TempDir()
	b := stFile(t, formats.U8, "w")
	p := filepath.Join(dir, "model.safetensors")
	writeFile(t, p, b)
	good, _ := verify.NewAllowlist(verify.NewEntry("model.safetensors", verify.SHA256, sha(b)))
	wrong, _ := verify.NewAllowlist(verify.NewEntry("model.safetensors", verify.SHA256, verify.Digest{1}))
	other, _ := verify.NewAllowlist(verify.NewEntry("other", verify.SHA256, sha(b)))
	for _, mode := range []loader.Mode{loader.ModeMap, loader.ModeReadAt, loader.ModePrivateCopy} {
		m, err := loader.Open(ctx, p, loader.WithAllowlist(good), loader.WithMode(mode))
		require.NoError(t, err)
		assert.True(t, m.Verified.Allowlisted)
		require.Len(t, m.Verified.Digests, 1)
		assert.Equal(t, sha(b), *m.Verified.Digests[0].SHA256)
		m.Close()
		_, err = loader.Open(ctx, p, loader.WithAllowlist(wrong), loader.WithMode(mode))
		assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err))
		_, err = loader.Open(ctx, p, loader.WithAllowlist(other), loader.WithMode(mode))
		assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err))
	}
	// A hostile file whose digest is approved is still refused.
	bad := testdata(t, "pickle/proto4.pkl")
	writeFile(t, p, bad)
	approved, _ := verify.NewAllowlist(verify.NewEntry("", verify.SHA256, sha(bad)))
	_, err := loader.Open(ctx, p, loader.WithAllowlist(approved))
	assert.Equal(t, formats.KindPickle, formats.KindOf(err))
}

func TestOpenPolicy(t *testing.T) {
	b := stFile(t, formats.U8, "w")
	dir := t.TempDir()
	p := filepath.Join(dir, "model.safetensors")
	writeFile(t, p, b)
	pol, err := verify.ParsePolicy([]byte("formats: [npz]\n"), dir)
	require.NoError(t, err)
	_, err = loader.Open(ctx, p, loader.WithPolicy(pol))
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err))
	pol, err = verify.ParsePolicy([]byte("limits: {max_file_bytes: 10}\n"), dir)
	require.NoError(t, err)
	_, err = loader.Open(ctx, p, loader.WithPolicy(pol))
	assert.Equal(t, formats.KindLimitExceeded, formats.KindOf(err))
	pol, err = verify.ParsePolicy([]byte("require: [digest]\ndigests: [{name: model.safetensors, sha256: "+sha(b).String()+"}]\n"), dir)
	require.NoError(t, err)
	m, err := loader.Open(ctx, p, loader.WithPolicy(pol))
	require.NoError(t, err)
	m.Close()
	pub, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	writeFile(t, filepath.Join(dir, "k.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	pol, err = verify.ParsePolicy([]byte("require: [signature]\nsignatures: {keys: [k.pem]}\n"), dir)
	require.NoError(t, err)
	_, err = loader.Open(ctx, p, loader.WithPolicy(pol))
	assert.Equal(t, formats.KindSignatureInvalid, formats.KindOf(err), "the library applies the policy's signatures: no bundle, refused: %v", err)
}

func TestMLXProfile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		dtype formats.DType
		ok    bool
	}{
		{formats.F32, true}, {formats.BF16, true}, {formats.C64, true}, {formats.F64, false}, {formats.F8_E5M2, false},
		{formats.F8_E4M3FNUZ, false}, {formats.F8_E5M2FNUZ, false}, {formats.F4, false}, {formats.F6_E2M3, false},
		{formats.F8_E4M3, false}, {formats.F8_E8M0, false},
	} {
		p := filepath.Join(dir, tc.dtype.String()+".safetensors")
		writeFile(t, p, stFile(t, tc.dtype, "w"))
		m, err := loader.Open(ctx, p, loader.WithProfile(loader.ProfileMLX))
		if tc.ok {
			require.NoError(t, err, tc.dtype)
			assert.Equal(t, "mlx", m.Verified.Profile)
			m.Close()
		} else {
			assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), tc.dtype)
		}
		m, err = loader.Open(ctx, p)
		require.NoError(t, err, "without the profile %s loads", tc.dtype)
		m.Close()
	}
	m, err := loader.Open(ctx, filepath.Join(dir, "F8_E4M3.safetensors"), loader.WithProfile(loader.ProfileMLX), loader.WithRawFP8Unsafe())
	require.NoError(t, err)
	m.Close()
	// Dimensions beyond int32 that the caller's limits let through.
	p := filepath.Join(dir, "wide.safetensors")
	hdr := `{"w":{"dtype":"U8","shape":[2147483648,0],"data_offsets":[0,0]}}`
	writeFile(t, p, append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...))
	_, err = loader.Open(ctx, p, loader.WithLimits(formats.Limits{MaxDim: 1 << 40}), loader.WithProfile(loader.ProfileMLX))
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err))
}

// TestConvertCanonical converts every npy and npz fixture to canonical
// safetensors and checks each tensor against numpy's C-order
// little-endian bytes, recorded by the generator.
func TestConvertCanonical(t *testing.T) {
	var canon map[string]map[string]string
	require.NoError(t, json.Unmarshal(testdata(t, "canonical.json"), &canon))
	require.NotEmpty(t, canon)
	for file, tensors := range canon {
		m, err := loader.Open(ctx, filepath.Join("..", "testdata", filepath.FromSlash(file)))
		require.NoError(t, err, file)
		var buf bytes.Buffer
		require.NoError(t, m.WriteSafetensors(&buf), file)
		m.Close()
		st, err := safetensors.NewReaderBytes(buf.Bytes(), formats.Limits{})
		require.NoError(t, err, file)
		require.Len(t, st.Tensors(), len(tensors), file)
		for name, want := range tensors {
			if name == "" {
				name = filepath.Base(file[:len(file)-len(".npy")])
			}
			b, ok := st.Bytes(name)
			require.True(t, ok, "%s %q", file, name)
			sum := sha256.Sum256(b)
			assert.Equal(t, want, hex.EncodeToString(sum[:]), "%s %q", file, name)
		}
	}
}

func TestConvertKeepsSafetensors(t *testing.T) {
	p := filepath.Join("..", "testdata", "safetensors", "tiny-mlp.safetensors")
	m, err := loader.Open(ctx, p)
	require.NoError(t, err)
	defer m.Close()
	var buf bytes.Buffer
	require.NoError(t, m.WriteSafetensors(&buf))
	assert.Equal(t, testdata(t, "safetensors/tiny-mlp.safetensors"), buf.Bytes(), "a canonical file converts to itself")
}

// TestOpenLargeSparseFileCostsHeadersOnly opens a 4 GiB file (sparse: no
// disk, no page cache) and checks Open allocates kilobytes, not gigabytes.
func TestOpenLargeSparseFileCostsHeadersOnly(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.safetensors")
	const data = 4 << 30
	hdr := fmt.Sprintf(`{"w":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}`, data/4, data)
	writeFile(t, p, append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...))
	require.NoError(t, os.Truncate(p, int64(8+len(hdr))+data))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := loader.Open(ctx, p)
	require.NoError(t, err)
	runtime.ReadMemStats(&after)
	defer m.Close()
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "Open allocated %d bytes", after.TotalAlloc-before.TotalAlloc)
	b, err := m.Bytes("w")
	require.NoError(t, err)
	assert.Len(t, b, data, "the tensor is a view of the mapping")
}
