package gguf_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	parser "github.com/gpustack/gguf-parser-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/internal/ggufwrite"
)

// oracleAgrees parses b with gpustack/gguf-parser-go and checks that it
// reads the same tensors, types, dims and absolute offsets as f.
func oracleAgrees(t *testing.T, b []byte, f *gguf.File) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.gguf")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	o, err := parser.ParseGGUFFile(p)
	require.NoError(t, err, "gguf-parser-go refuses a file modelgate accepts")
	require.Len(t, o.TensorInfos, len(f.Tensors))
	byName := map[string]gguf.Tensor{}
	for _, tn := range f.Tensors {
		byName[tn.Name] = tn
	}
	for _, ti := range o.TensorInfos {
		mine, ok := byName[ti.Name]
		require.True(t, ok, ti.Name)
		assert.Equal(t, uint32(mine.Type), uint32(ti.Type), ti.Name)
		dims := make([]int64, len(ti.Dimensions))
		for i, d := range ti.Dimensions {
			dims[i] = int64(d)
		}
		assert.Equal(t, mine.Dims, dims, ti.Name)
		assert.Equal(t, mine.Offset, o.TensorDataStartOffset+int64(ti.Offset), ti.Name)
	}
}

// TestOracleAgrees: what modelgate accepts, gguf-parser-go reads the same.
func TestOracleAgrees(t *testing.T) {
	for name, s := range map[string]ggufwrite.File{
		"every type and value": ggufwrite.Every(),
		"version 2":            {Version: 2, Tensors: []ggufwrite.Tensor{{Name: "w", Dims: []uint64{4, 2}, Type: 0, Size: 32, Offset: -1}}},
		"alignment 64":         {Align: 64, KVs: []ggufwrite.KV{{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(64)}}, Tensors: []ggufwrite.Tensor{{Name: "a", Dims: []uint64{3}, Type: 0, Size: 12, Offset: -1}, {Name: "b", Dims: []uint64{32}, Type: 8, Size: 34, Offset: -1}}},
	} {
		t.Run(name, func(t *testing.T) {
			b := s.Build()
			f, err := open(b)
			require.NoError(t, err)
			oracleAgrees(t, b, f)
		})
	}
}

// TestStricterThanTheOracle lists every case where modelgate refuses what
// gguf-parser-go v0.28.1 accepts, with the reason.
func TestStricterThanTheOracle(t *testing.T) {
	ok := func() ggufwrite.File {
		return ggufwrite.File{Tensors: []ggufwrite.Tensor{{Name: "a", Dims: []uint64{8}, Type: 0, Size: 32, Offset: -1}, {Name: "b", Dims: []uint64{32}, Type: 2, Size: 18, Offset: -1}}}
	}
	with := func(f func(*ggufwrite.File)) []byte { s := ok(); f(&s); return s.Build() }
	for name, tc := range map[string]struct {
		file   []byte
		reason string
	}{
		"duplicate key": {with(func(s *ggufwrite.File) {
			s.KVs = []ggufwrite.KV{{Key: "k", VT: gguf.Uint8, Val: uint8(1)}, {Key: "k", VT: gguf.Uint8, Val: uint8(2)}}
		}), "readers disagree on which value wins"},
		"misaligned offset": {with(func(s *ggufwrite.File) { s.Tensors[1].Offset = 40 }), "the spec requires aligned offsets; MLX's gguflib computes them itself"},
		"hole":              {with(func(s *ggufwrite.File) { s.Tensors[1].Offset = 64 }), "unaccounted bytes can hide a second reading"},
		"trailing bytes":    {with(func(s *ggufwrite.File) { s.Trailer = make([]byte, 64) }), "a polyglot's hiding place"},
		"past the end":      {with(func(s *ggufwrite.File) { s.Tensors[1].Dims = []uint64{32 * 100}; s.Tensors[1].Size = 18 }), "tensor data must lie in the file"},
		"bool 2":            {with(func(s *ggufwrite.File) { s.KVs = []ggufwrite.KV{{Key: "b", VT: gguf.Bool, Val: byte(2)}} }), "the spec says anything else is invalid"},
		"key not ASCII":     {with(func(s *ggufwrite.File) { s.KVs = []ggufwrite.KV{{Key: "é", VT: gguf.Uint8, Val: uint8(1)}} }), "the spec requires ASCII keys; names reach terminals"},
		"string with a NUL": {with(func(s *ggufwrite.File) {
			s.KVs = []ggufwrite.KV{{Key: "general.architecture", VT: gguf.String, Val: "llama\x00qwen2"}}
		}), "llama.cpp's C API reads it cut at the NUL"},
		"string not UTF-8":        {with(func(s *ggufwrite.File) { s.KVs = []ggufwrite.KV{{Key: "general.name", VT: gguf.String, Val: "\xff"}} }), "gguf-py raises, @huggingface/gguf substitutes U+FFFD"},
		"infos out of data order": {with(func(s *ggufwrite.File) { s.Tensors[0].Offset, s.Tensors[1].Offset = 32, 0 }), "ggml's gguf_init_from_file refuses it (has offset X, expected Y)"},
		"tensor name of 64 bytes": {with(func(s *ggufwrite.File) { s.Tensors[0].Name = strings.Repeat("n", 64) }), "ggml requires fewer than GGML_MAX_NAME (64) bytes"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := open(tc.file)
			require.Error(t, err, "modelgate refuses it: %s", tc.reason)
			p := filepath.Join(t.TempDir(), "m.gguf")
			require.NoError(t, os.WriteFile(p, tc.file, 0o600))
			_, oerr := parser.ParseGGUFFile(p)
			if oerr != nil {
				t.Logf("gguf-parser-go refuses it too now (%v): this case is no longer a strictness of modelgate's", oerr)
			}
		})
	}
}

func FuzzGGUF(f *testing.F) {
	f.Add(ggufwrite.Every().Build())
	f.Add(ggufwrite.File{Version: 2, Tensors: []ggufwrite.Tensor{{Name: "w", Dims: []uint64{4}, Type: 0, Size: 16, Offset: -1}}}.Build())
	f.Add(ggufwrite.File{KVs: []ggufwrite.KV{{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(64)}}, Align: 64, Tensors: []ggufwrite.Tensor{{Name: "b", Dims: []uint64{32}, Type: 8, Size: 34, Offset: -1}}}.Build())
	for _, c := range ggufwrite.Hostile() {
		f.Add(c.File)
	}
	lim := formats.Limits{MaxTensors: 1000, MaxMetadataEntries: 1000, MaxMetadataBytes: 1 << 20, MaxTotalBytes: 1 << 30}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := gguf.NewReader(bytes.NewReader(b), int64(len(b)), lim)
		if err != nil {
			assert.Contains(t, []formats.Kind{formats.KindMalformed, formats.KindUnsupported, formats.KindLimitExceeded}, formats.KindOf(err), "%v", err)
			return
		}
		var end int64
		for _, tn := range g.Tensors {
			require.GreaterOrEqual(t, tn.Offset, max(end, g.DataStart))
			require.LessOrEqual(t, tn.Offset+tn.Size, int64(len(b)))
			require.Zero(t, (tn.Offset-g.DataStart)%g.Alignment)
			end = tn.Offset + tn.Size
		}
	})
}
