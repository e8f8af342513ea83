package gguf_test

import (
	"bytes"
	"os"
	"path/filepath"
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
	typ, _ := f.Lookup("tokenizer.ggml.token_type")
	assert.Equal(t, []int32{3, 3, 1}, typ.Value, "arrays are typed slices")
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
	for _, tc := range ggufwrite.Hostile() {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := open(tc.File)
			require.Error(t, err)
			assert.Equal(t, tc.Kind, formats.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.Msg)
		})
	}
	_, err := open(ggufwrite.Base().Build())
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

// TestFixturesAreGenerated: the files in testdata/gguf are what
// testdata/gen_gguf.go writes, so the committed fixtures and the cases
// above cannot drift apart.
func TestFixturesAreGenerated(t *testing.T) {
	for _, fx := range ggufwrite.Fixtures() {
		got, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gguf", filepath.FromSlash(fx.Path)))
		require.NoError(t, err, "run go run ./testdata/gen_gguf.go")
		assert.Equal(t, fx.File, got, "%s differs from the generator's; run go run ./testdata/gen_gguf.go", fx.Path)
	}
}

// TestTensorLookupByName: Tensor finds each tensor by name at its own
// offset, in the order of the infos (which ggml requires to be the order
// of the data; the hostile case "infos listed out of data order" is
// refused).
func TestTensorLookupByName(t *testing.T) {
	s := ggufwrite.File{Tensors: []ggufwrite.Tensor{
		{Name: "first", Dims: []uint64{4}, Type: 0, Size: 16, Offset: 0},
		{Name: "second", Dims: []uint64{8}, Type: 0, Size: 32, Offset: 32},
	}}
	f, err := open(s.Build())
	require.NoError(t, err)
	assert.Equal(t, "first", f.Tensors[0].Name)
	for name, rel := range map[string]int64{"first": 0, "second": 32} {
		tn, ok := f.Tensor(name)
		require.True(t, ok, name)
		assert.Equal(t, name, tn.Name)
		assert.Equal(t, f.DataStart+rel, tn.Offset, name)
	}
	_, ok := f.Tensor("third")
	assert.False(t, ok)
}
