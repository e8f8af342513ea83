package loader_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
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
			{Name: "blk.0.q.weight", Dims: []uint64{32, 2}, Type: 2, Size: 36, Offset: -1},
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
	m, err = loader.Open(ctx, small)
	require.NoError(t, err)
	var buf bytes.Buffer
	err = m.WriteSafetensors(&buf)
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "without the MLX profile a quantized tensor is not written as safetensors: %v", err)
	m.Close()
	m, err = loader.Open(ctx, small, loader.WithProfile(loader.ProfileMLX))
	require.NoError(t, err, "F32, F16 and Q4_0 are what MLX loads")
	buf.Reset()
	require.NoError(t, m.WriteSafetensors(&buf), "under it, Q4_0 becomes MLX's quantization (TestMLXQuantizedConvertDequantizesAsGGML)")
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

// TestGGUFUnderTheMLXProfile: the MLX profile accepts only what
// mlx/io/gguf.cpp and gguf_quants.cpp load as the file holds it: their
// types, the names gguf_load_quantized derives, and sizes its int
// accumulator holds.
func TestGGUFUnderTheMLXProfile(t *testing.T) {
	dir := t.TempDir()
	f32 := func(name string) ggufwrite.Tensor {
		return ggufwrite.Tensor{Name: name, Dims: []uint64{8}, Type: 0, Size: 32, Offset: -1}
	}
	// scaled is a 256-element tensor of type ty whose every block has the
	// float16 scale d.
	scaled := func(name string, ty gguf.Type, d uint16) ggufwrite.Tensor {
		block := map[gguf.Type]int{2: 18, 3: 20, 8: 34}[ty]
		data := make([]byte, 8*block)
		for i := 0; i < len(data); i += block {
			binary.LittleEndian.PutUint16(data[i:], d)
		}
		return ggufwrite.Tensor{Name: name, Dims: []uint64{256}, Type: ty, Size: int64(len(data)), Offset: -1, Data: data}
	}
	// q is a 256-element tensor of type ty, of size bytes; Q4_0, Q4_1 and
	// Q8_0 blocks have the scale 1.
	q := func(name string, ty gguf.Type, size int64) ggufwrite.Tensor {
		if ty == 2 || ty == 3 || ty == 8 {
			return scaled(name, ty, 0x3C00)
		}
		return ggufwrite.Tensor{Name: name, Dims: []uint64{256}, Type: ty, Size: size, Offset: -1}
	}
	for _, tc := range []struct {
		name    string
		tensors []ggufwrite.Tensor
		msg     string // "" when accepted
	}{
		{"quantized .weight beside its bias", []ggufwrite.Tensor{q("blk.0.ffn.weight", 2, 8*18), f32("blk.0.ffn.bias")}, ""},
		{"every quantized type MLX loads", []ggufwrite.Tensor{q("a.weight", 2, 8*18), q("b.weight", 3, 8*20), q("c.weight", 8, 8*34)}, ""},
		{"quantized name without .weight", []ggufwrite.Tensor{q("output_norm", 8, 8*34)}, `cutting 7 bytes from its name, here not ".weight" (it would add "outp.scales")`},
		{"quantized name of 7 bytes, not .weight", []ggufwrite.Tensor{q("attn_qk", 2, 8*18)}, `it would add ".scales"`},
		{"quantized name shorter than 7 bytes: MLX keeps it whole", []ggufwrite.Tensor{q("q", 8, 8*34), q("blk.k", 2, 8*18)}, ""},
		{"short name whose scales are taken", []ggufwrite.Tensor{q("q", 8, 8*34), f32("q.scales")}, `adds "q.scales"`},
		{"Q8_0 scale 511.75: bias -65504 in float16", []ggufwrite.Tensor{scaled("s.weight", 8, 0x5FFF)}, ""},
		{"Q8_0 scale 512: bias overflows float16", []ggufwrite.Tensor{scaled("s.weight", 8, 0x6000)}, "bias -128*d in float16"},
		{"Q8_0 scale -600: bias overflows float16", []ggufwrite.Tensor{scaled("s.weight", 8, 0xE0B0)}, "not finite"},
		{"Q4_0 scale 8188: bias -65504 in float16", []ggufwrite.Tensor{scaled("s.weight", 2, 0x6FFF)}, ""},
		{"Q4_0 scale 8192: bias overflows float16", []ggufwrite.Tensor{scaled("s.weight", 2, 0x7000)}, "bias -8*d in float16"},
		{"Q4_1 scale 60000: its bias is stored", []ggufwrite.Tensor{scaled("s.weight", 3, 0x7B53)}, ""},
		{"scales already taken", []ggufwrite.Tensor{f32("x.scales"), q("x.weight", 2, 8*18)}, `adds "x.scales"`},
		{"biases already taken, after", []ggufwrite.Tensor{q("x.weight", 3, 8*20), f32("x.biases")}, `adds "x.biases"`},
		{"Q4_K", []ggufwrite.Tensor{q("k.weight", 12, 144)}, "loads ggml type Q4_K as float16"},
		{"BF16", []ggufwrite.Tensor{{Name: "h", Dims: []uint64{4}, Type: 30, Size: 8, Offset: -1}}, "loads ggml type BF16 as float16"},
		{"Q6_K", []ggufwrite.Tensor{q("k.weight", 14, 210)}, "loads ggml type Q6_K as float16"},
		{"Q2_K", []ggufwrite.Tensor{q("k.weight", 10, 84)}, "loads ggml type Q2_K as float16"},
		{"Q5_0, which gguflib cannot convert", []ggufwrite.Tensor{{Name: "k.weight", Dims: []uint64{32}, Type: 6, Size: 22, Offset: -1}}, "refuses ggml type Q5_0"},
		{"NVFP4, past gguflib's table", []ggufwrite.Tensor{{Name: "k.weight", Dims: []uint64{64}, Type: 40, Size: 36, Offset: -1}}, "silently load none of the tensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			underMLX(t, filepath.Join(dir, "m.gguf"), ggufwrite.File{Tensors: tc.tensors}.Build(), tc.msg)
		})
	}
	t.Run("packed weights beyond int32", func(t *testing.T) {
		// 2^33 Q8_0 elements: 2^31 packed uint32 words, one past MLX's int.
		head, size := ggufwrite.File{Tensors: []ggufwrite.Tensor{{Name: "big.weight", Dims: []uint64{32, 1 << 28}, Type: 8, Size: 34 << 28, Offset: -1}}}.Header()
		p := filepath.Join(dir, "big.gguf")
		writeFile(t, p, head)
		require.NoError(t, os.Truncate(p, size))
		_, err := loader.Open(ctx, p, loader.WithProfile(loader.ProfileMLX), loader.WithMode(loader.ModeReadAt))
		assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%v", err)
		assert.ErrorContains(t, err, "int32")
	})
}

// alignedAt64 returns a file with general.alignment 64 whose tensor
// infos end at a multiple of 64 (32-byte alignment starts the data
// section at the same offset) or not (it starts it 32 bytes earlier).
func alignedAt64(t *testing.T, same bool) []byte {
	for n := range 64 {
		f := ggufwrite.File{Align: 64, KVs: []ggufwrite.KV{
			{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(64)},
			{Key: "pad", VT: gguf.String, Val: strings.Repeat("x", n)},
		}, Tensors: []ggufwrite.Tensor{{Name: "w", Dims: []uint64{8}, Type: 0, Size: 32, Offset: -1}}}
		b := f.Build()
		g, err := gguf.NewReader(bytes.NewReader(b), int64(len(b)), formats.DefaultLimits())
		require.NoError(t, err)
		if (g.HeaderEnd%64 == 0 || g.HeaderEnd%64 > 32) == same {
			return b
		}
	}
	t.Fatal("no padding gives that layout")
	return nil
}

// TestGGUFHeadersMLXReadsDifferently: what gguflib and MLX's metadata
// reader would read otherwise than the spec is refused under the MLX
// profile, and accepted without it.
func TestGGUFHeadersMLXReadsDifferently(t *testing.T) {
	dir := t.TempDir()
	w := ggufwrite.Tensor{Name: "w", Dims: []uint64{8}, Type: 0, Size: 32, Offset: -1}
	withKV := func(kvs ...ggufwrite.KV) []byte {
		return ggufwrite.File{KVs: append(kvs, ggufwrite.KV{Key: "general.name", VT: gguf.String, Val: "after"}), Tensors: []ggufwrite.Tensor{w}}.Build()
	}
	for _, tc := range []struct {
		name string
		file []byte
		msg  string // "" when accepted
	}{
		{"alignment 64 where 32 lands on the same offset", alignedAt64(t, true), ""},
		// gguflib at 8fa6eb6 (gguf_get_key) reads a uint32 general.alignment
		// and no other key; it read "general.alignmnet" only before e5cdcec.
		{"alignment 64 where 32 would land elsewhere", alignedAt64(t, false), ""},
		{"the misspelt alignment key is ignored", withKV(ggufwrite.KV{Key: "general.alignmnet", VT: gguf.Uint32, Val: uint32(64)}), ""},
		{"the misspelt alignment key is ignored, even when 0", withKV(ggufwrite.KV{Key: "general.alignmnet", VT: gguf.Uint32, Val: uint32(0)}), ""},
		{"a float64 value", withKV(ggufwrite.KV{Key: "rope.scale", VT: gguf.Float64, Val: float64(1.5)}), "float64"},
		{"an array of float64", withKV(ggufwrite.KV{Key: "scores", VT: gguf.Array, Elem: gguf.Float64, Val: []float64{1, 2}}), "float64"},
		{"a float32 value", withKV(ggufwrite.KV{Key: "rope.scale", VT: gguf.Float32, Val: float32(1.5)}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			underMLX(t, filepath.Join(dir, "m.gguf"), tc.file, tc.msg)
		})
	}
}

// underMLX writes a valid GGUF file to p and opens it under the MLX
// profile: accepted when msg is "", else refused unsupported with msg.
func underMLX(t *testing.T, p string, b []byte, msg string) {
	t.Helper()
	writeFile(t, p, b)
	m, err := loader.Open(ctx, p)
	require.NoError(t, err, "valid GGUF without the profile")
	m.Close()
	m, err = loader.Open(ctx, p, loader.WithProfile(loader.ProfileMLX))
	if msg == "" {
		require.NoError(t, err)
		m.Close()
		return
	}
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%v", err)
	assert.ErrorContains(t, err, msg)
}
