package gguf_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/internal/ggufwrite"
)

func open(b []byte) (*gguf.File, error) {
	return gguf.NewReader(bytes.NewReader(b), int64(len(b)), formats.Limits{})
}

func TestEveryTypeAndValue(t *testing.T) {
	s := ggufwrite.Every()
	b := s.Build()
	f, err := open(b)
	require.NoError(t, err)
	assert.Equal(t, uint32(3), f.Version)
	require.Len(t, f.Tensors, len(gguf.Types()))
	require.Len(t, f.Metadata, len(s.KVs))
	for i, want := range s.Tensors {
		got := f.Tensors[i]
		assert.Equal(t, want.Name, got.Name)
		assert.Equal(t, want.Type, got.Type)
		assert.Equal(t, want.Size, got.Size, want.Name)
		assert.Equal(t, f.DataStart+want.Offset, got.Offset)
		assert.Equal(t, []int64{3, int64(want.Dims[0])}, got.Shape, "row-major shape reverses ggml's dims")
		if dt, ok := got.Type.DType(); ok {
			assert.Equal(t, dt, got.DType)
		}
	}
	tok, ok := f.Lookup("tokenizer.ggml.tokens")
	require.True(t, ok)
	assert.Equal(t, []string{"<s>", "</s>", "hello"}, tok.Value)
	v, _ := f.Lookup("bool")
	assert.Equal(t, true, v.Value)
	v, _ = f.Lookup("f64")
	assert.Equal(t, 0.25, v.Value)
}

func TestVersion2AndDefaultAlignment(t *testing.T) {
	s := ggufwrite.File{Version: 2, KVs: []ggufwrite.KV{{Key: "general.architecture", VT: gguf.String, Val: "llama"}},
		Tensors: []ggufwrite.Tensor{{Name: "w", Dims: []uint64{4}, Type: 0, Size: 16, Offset: -1}, {Name: "b", Dims: []uint64{2}, Type: 1, Size: 4, Offset: -1}}}
	f, err := open(s.Build())
	require.NoError(t, err)
	assert.Equal(t, int64(32), f.Alignment)
	assert.Equal(t, f.DataStart+32, f.Tensors[1].Offset)
}

// TestRefusals: one case per rule of the package doc, with its kind.
func TestRefusals(t *testing.T) {
	ok := func() ggufwrite.File {
		return ggufwrite.File{KVs: []ggufwrite.KV{{Key: "general.architecture", VT: gguf.String, Val: "llama"}},
			Tensors: []ggufwrite.Tensor{{Name: "a", Dims: []uint64{8}, Type: 0, Size: 32, Offset: -1}, {Name: "b", Dims: []uint64{32}, Type: 2, Size: 18, Offset: -1}}}
	}
	with := func(f func(*ggufwrite.File)) []byte { s := ok(); f(&s); return s.Build() }
	for _, tc := range []struct {
		name string
		file []byte
		kind formats.Kind
		msg  string
	}{
		{"version 1", with(func(s *ggufwrite.File) { s.Version = 1 }), formats.KindUnsupported, "version 1"},
		{"big-endian", with(func(s *ggufwrite.File) { s.Version = 3 << 24 }), formats.KindUnsupported, "big-endian"},
		{"version 4", with(func(s *ggufwrite.File) { s.Version = 4 }), formats.KindUnsupported, "version 4"},
		{"huge tensor count", with(func(s *ggufwrite.File) { s.NTensors = math.MaxUint64 }), formats.KindLimitExceeded, "MaxTensors"},
		{"huge metadata count", with(func(s *ggufwrite.File) { s.NKV = math.MaxUint64 }), formats.KindLimitExceeded, "MaxMetadataEntries"},
		{"counts beyond the file", with(func(s *ggufwrite.File) { s.NKV = 5000 }), formats.KindMalformed, "cannot fit"},
		{"huge key length", append(append([]byte("GGUF\x03\x00\x00\x00"), ggufwrite.LE([]uint64{0, 1, math.MaxUint64})...), make([]byte, 64)...), formats.KindLimitExceeded, "metadata key length"},
		{"huge tensor name length", append(append([]byte("GGUF\x03\x00\x00\x00"), ggufwrite.LE([]uint64{1, 0, 1 << 40})...), make([]byte, 64)...), formats.KindLimitExceeded, "tensor name length"},
		{"tensor name over 64 bytes", with(func(s *ggufwrite.File) { s.Tensors[0].Name = string(bytes.Repeat([]byte("n"), 65)) }), formats.KindLimitExceeded, "tensor name"},
		{"alignment 0", with(func(s *ggufwrite.File) {
			s.KVs = append(s.KVs, ggufwrite.KV{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(0)})
		}), formats.KindMalformed, "power of two"},
		{"alignment 48", with(func(s *ggufwrite.File) {
			s.KVs = append(s.KVs, ggufwrite.KV{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(48)})
		}), formats.KindMalformed, "power of two"},
		{"alignment as int32", with(func(s *ggufwrite.File) {
			s.KVs = append(s.KVs, ggufwrite.KV{Key: "general.alignment", VT: gguf.Int32, Val: int32(32)})
		}), formats.KindMalformed, "uint32"},
		{"duplicate key", with(func(s *ggufwrite.File) { s.KVs = append(s.KVs, s.KVs[0]) }), formats.KindMalformed, "listed twice"},
		{"key not ASCII", with(func(s *ggufwrite.File) { s.KVs[0].Key = "général" }), formats.KindMalformed, "ASCII"},
		{"key with an escape", with(func(s *ggufwrite.File) { s.KVs[0].Key = "a\x1b[2J" }), formats.KindMalformed, "ASCII"},
		{"unknown value type", with(func(s *ggufwrite.File) { s.KVs = append(s.KVs, ggufwrite.KV{Key: "x", VT: 13, Val: uint32(0)}) }), formats.KindMalformed, "value type"},
		{"bool 2", with(func(s *ggufwrite.File) { s.KVs = append(s.KVs, ggufwrite.KV{Key: "x", VT: gguf.Bool, Val: byte(2)}) }), formats.KindMalformed, "neither 0 nor 1"},
		{"nested array", with(func(s *ggufwrite.File) {
			s.KVs = append(s.KVs, ggufwrite.KV{Key: "x", VT: gguf.Array, Elem: gguf.Array, Val: nil})
		}), formats.KindUnsupported, "nested"},
		{"array longer than the file", with(func(s *ggufwrite.File) {
			s.KVs = append(s.KVs, ggufwrite.KV{Key: "x", VT: gguf.Array, Elem: gguf.String, Val: []string{"a"}, RawLength: 1 << 40})
		}), formats.KindMalformed, "cannot fit"},
		{"duplicate tensor", with(func(s *ggufwrite.File) { s.Tensors[1].Name = "a" }), formats.KindMalformed, "listed twice"},
		{"0 dimensions", with(func(s *ggufwrite.File) { s.Tensors[0].Dims = nil }), formats.KindMalformed, "0 dimensions"},
		{"5 dimensions", with(func(s *ggufwrite.File) { s.Tensors[0].Dims = []uint64{8, 1, 1, 1, 1} }), formats.KindMalformed, "5 dimensions"},
		{"a dimension of 0", with(func(s *ggufwrite.File) { s.Tensors[0].Dims = []uint64{8, 0} }), formats.KindMalformed, "is 0"},
		{"dimension beyond MaxDim", with(func(s *ggufwrite.File) { s.Tensors[0].Dims = []uint64{1 << 40} }), formats.KindLimitExceeded, "MaxDim"},
		{"removed type", with(func(s *ggufwrite.File) { s.Tensors[0].Type = 4 }), formats.KindUnsupported, "ggml type 4"},
		{"unknown type", with(func(s *ggufwrite.File) { s.Tensors[0].Type = 40 }), formats.KindUnsupported, "ggml type 40"},
		{"not a whole block", with(func(s *ggufwrite.File) { s.Tensors[1].Dims = []uint64{16} }), formats.KindMalformed, "block size"},
		{"misaligned offset", with(func(s *ggufwrite.File) { s.Tensors[1].Offset = 33 }), formats.KindMalformed, "multiple of the alignment"},
		{"overlap", with(func(s *ggufwrite.File) { s.Tensors[1].Offset = 0 }), formats.KindMalformed, "overlaps"},
		{"hole", with(func(s *ggufwrite.File) { s.Tensors[1].Offset = 64 }), formats.KindMalformed, "only alignment padding"},
		{"past the end", with(func(s *ggufwrite.File) { s.Tensors[1].Size = 18; s.Tensors[1].Dims = []uint64{32 * 100} }), formats.KindMalformed, "past the end"},
		{"trailing bytes", with(func(s *ggufwrite.File) { s.Trailer = make([]byte, 64) }), formats.KindMalformed, "after the last tensor"},
		{"non-zero header padding", with(func(s *ggufwrite.File) { s.Pad = 0xAA }), formats.KindMalformed, "header padding"},
		{"truncated in the tensor infos", ok().Build()[:110], formats.KindMalformed, "runs past the end"},
		{"not GGUF", []byte("GGUX\x03\x00\x00\x00"), formats.KindMalformed, "magic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := open(tc.file)
			require.Error(t, err)
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	_, err := open(ok().Build())
	require.NoError(t, err, "the base case is valid")
}

// TestHugeTokenizerParsesWithinLimits: a tokenizer of 150,000 strings (as
// Qwen's and Llama 3's are) parses, and MaxMetadataBytes bounds it.
func TestHugeTokenizerParsesWithinLimits(t *testing.T) {
	toks := make([]string, 150_000)
	for i := range toks {
		toks[i] = "token" + string(rune('a'+i%26)) + string(rune('a'+i/26%26))
	}
	s := ggufwrite.File{KVs: []ggufwrite.KV{{Key: "tokenizer.ggml.tokens", VT: gguf.Array, Elem: gguf.String, Val: toks}}}
	b := s.Build()
	f, err := open(b)
	require.NoError(t, err)
	v, _ := f.Lookup("tokenizer.ggml.tokens")
	assert.Len(t, v.Value, 150_000)
	_, err = gguf.NewReader(bytes.NewReader(b), int64(len(b)), formats.Limits{MaxMetadataBytes: 1 << 20})
	assert.Equal(t, formats.KindLimitExceeded, formats.KindOf(err))
}
