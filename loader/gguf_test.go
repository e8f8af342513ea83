package loader_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/internal/ggufwrite"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// mlxGGUF is a GGUF file with only types MLX loads.
func mlxGGUF() ggufwrite.File {
	return ggufwrite.File{
		KVs: []ggufwrite.KV{{Key: "general.architecture", VT: gguf.String, Val: "llama"}, {Key: "general.name", VT: gguf.String, Val: "tiny"}},
		Tensors: []ggufwrite.Tensor{
			{Name: "embed", Dims: []uint64{4, 3}, Type: 0, Size: 48, Offset: -1},
			{Name: "norm", Dims: []uint64{4}, Type: 1, Size: 8, Offset: -1},
			{Name: "q", Dims: []uint64{32, 2}, Type: 2, Size: 36, Offset: -1},
		},
	}
}

// TestGGUFLoads: GGUF is a first-class format (issue 14): it loads with
// its ggml types, zero-copy, through policy formats, the MLX profile and
// convert; a directory of GGUF files loads like one of safetensors.
func TestGGUFLoads(t *testing.T) {
	dir := t.TempDir()
	every := filepath.Join(dir, "every.gguf")
	writeFile(t, every, ggufwrite.Every().Build())
	m, err := loader.Open(ctx, every)
	require.NoError(t, err)
	assert.Equal(t, formats.FormatGGUF, m.Files[0].Format)
	assert.Equal(t, "llama", m.Files[0].Metadata["general.architecture"])
	q, ok := m.Tensor("t.Q4_K")
	require.True(t, ok)
	assert.Equal(t, "Q4_K", q.GGMLType)
	b, err := m.Bytes("t.Q4_K")
	require.NoError(t, err)
	assert.Len(t, b, int(q.Size))
	m.Close()

	_, err = loader.Open(ctx, every, loader.WithProfile(loader.ProfileMLX))
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "MLX loads no Q2_K, IQ or K-quants: %v", err)

	small := filepath.Join(dir, "small.gguf")
	gb := mlxGGUF().Build()
	writeFile(t, small, gb)
	m, err = loader.Open(ctx, small, loader.WithProfile(loader.ProfileMLX))
	require.NoError(t, err, "F32, F16 and Q4_0 are what MLX loads")
	var buf bytes.Buffer
	err = m.WriteSafetensors(&buf)
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "a quantized tensor is not written as safetensors: %v", err)
	m.Close()

	plain := ggufwrite.File{Tensors: mlxGGUF().Tensors[:2]}
	writeFile(t, small, plain.Build())
	m, err = loader.Open(ctx, small)
	require.NoError(t, err)
	buf.Reset()
	require.NoError(t, m.WriteSafetensors(&buf))
	st, err := safetensors.NewReaderBytes(buf.Bytes(), formats.Limits{})
	require.NoError(t, err)
	for _, name := range []string{"embed", "norm"} {
		src, _ := m.Bytes(name)
		ti, ok := st.Tensor(name)
		require.True(t, ok)
		dst, _ := st.Bytes(name)
		assert.Equal(t, src, dst, "bytes as stored")
		orig, _ := m.Tensor(name)
		assert.Equal(t, orig.Shape, ti.Shape)
	}
	embed, _ := st.Tensor("embed")
	assert.Equal(t, []int64{3, 4}, embed.Shape, "ggml's dims reversed into row-major order")
	m.Close()

	pol, err := verify.ParsePolicy([]byte("formats: [safetensors]\n"), dir)
	require.NoError(t, err)
	_, err = loader.Open(ctx, small, loader.WithPolicy(pol))
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "the policy forbids gguf")
	pol, err = verify.ParsePolicy([]byte("formats: [gguf]\n"), dir)
	require.NoError(t, err)
	m, err = loader.Open(ctx, small, loader.WithPolicy(pol))
	require.NoError(t, err, "the policy allows gguf")
	m.Close()

	model := t.TempDir()
	writeFile(t, filepath.Join(model, "model-00001.gguf"), plain.Build())
	writeFile(t, filepath.Join(model, "README.md"), []byte("# tiny\n"))
	m, err = loader.Open(ctx, model)
	require.NoError(t, err, "a directory of GGUF loads like one of safetensors")
	assert.Len(t, m.Tensors, 2)
	m.Close()
}

// TestGGUFRefusedThroughTheLoader: hostile GGUF is refused with the
// reader's kinds, and content named .gguf gets the GGUF diagnosis.
func TestGGUFRefusedThroughTheLoader(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		f    ggufwrite.File
		kind formats.Kind
	}{
		"alignment 0":  {ggufwrite.File{KVs: []ggufwrite.KV{{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(0)}}, Tensors: mlxGGUF().Tensors}, formats.KindMalformed},
		"tensor count": {ggufwrite.File{NTensors: 1 << 62, Tensors: mlxGGUF().Tensors}, formats.KindLimitExceeded},
		"version 1":    {ggufwrite.File{Version: 1, Tensors: mlxGGUF().Tensors}, formats.KindUnsupported},
	} {
		p := filepath.Join(dir, "m.gguf")
		writeFile(t, p, tc.f.Build())
		_, err := loader.Open(ctx, p)
		assert.Equal(t, tc.kind, formats.KindOf(err), "%s: %v", name, err)
	}
	p := filepath.Join(dir, "renamed.gguf")
	writeFile(t, p, testdata(t, "pickle/proto4.pkl"))
	_, err := loader.Open(ctx, p)
	assert.Equal(t, formats.KindPickle, formats.KindOf(err), "content decides")
}
