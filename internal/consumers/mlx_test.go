package consumers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/internal/consumers"
	"github.com/modelgate/modelgate/internal/ggufwrite"
	"github.com/modelgate/modelgate/loader"
)

// specReading is the file read as its format's spec says, written as the
// arrays a correct reader makes of it (modelgate convert without a
// profile), or false where no profile-free conversion exists (quantized
// GGUF).
func specReading(path string) (consumers.Reading, bool) {
	m, err := loader.Open(context.Background(), path)
	if err != nil {
		return consumers.Reading{}, false
	}
	defer m.Close()
	var buf bytes.Buffer
	if m.WriteSafetensors(&buf) != nil {
		return consumers.Reading{}, false
	}
	f, err := safetensors.NewReaderBytes(buf.Bytes(), formats.DefaultLimits())
	if err != nil {
		return consumers.Reading{}, false
	}
	r := consumers.Reading{OK: true}
	for _, t := range f.Tensors() {
		b, _ := f.Bytes(t.Name)
		sum := sha256.Sum256(b)
		name := t.Name
		if strings.HasSuffix(path, ".npy") {
			name = ""
		}
		r.Tensors = append(r.Tensors, consumers.Tensor{NameHex: hex.EncodeToString([]byte(name)), DType: t.DType.String(), Shape: t.Shape, SHA256: hex.EncodeToString(sum[:])})
	}
	r.Normalise(path, false)
	return r, true
}

// mlxRuleCases are files, one or more per rule of the MLX profile
// (loader.CheckMLX), made with the writers the tests have.
func mlxRuleCases() map[string][]byte {
	f32 := func(name string, n uint64) ggufwrite.Tensor {
		return ggufwrite.Tensor{Name: name, Dims: []uint64{n}, Type: 0, Size: int64(4 * n), Offset: -1}
	}
	g := func(kvs []ggufwrite.KV, align int64, ts ...ggufwrite.Tensor) []byte {
		return ggufwrite.File{KVs: kvs, Align: align, Tensors: ts}.Build()
	}
	st := func(d formats.DType, n int) []byte {
		var b bytes.Buffer
		data := make([]byte, n*int(d.Bits())/8)
		for i := range data {
			data[i] = byte(i*7 + 1)
		}
		if err := safetensors.Write(&b, []safetensors.Tensor{{Name: "w", DType: d, Shape: []int64{int64(n)}, Data: bytes.NewReader(data)}}, nil); err != nil {
			panic(err)
		}
		return b.Bytes()
	}
	npy := func(header string, data []byte) []byte {
		total := 10 + len(header) + 1
		header += strings.Repeat(" ", (64-total%64)%64) + "\n"
		b := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
		return append(append(b, header...), data...)
	}
	eight := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	return map[string][]byte{
		"gguf-f32.gguf":                     g(nil, 0, f32("a", 8), ggufwrite.Tensor{Name: "b", Dims: []uint64{4}, Type: 1, Size: 8, Offset: -1}),
		"gguf-general.alignment-64.gguf":    aligned64(),
		"gguf-general.alignmnet-64.gguf":    g([]ggufwrite.KV{{Key: "general.alignmnet", VT: gguf.Uint32, Val: uint32(64)}}, 0, f32("a", 3), f32("b", 8)),
		"gguf-float64-metadata.gguf":        g([]ggufwrite.KV{{Key: "x", VT: gguf.Float64, Val: 0.25}, {Key: "general.name", VT: gguf.String, Val: "after"}}, 0, f32("a", 4)),
		"gguf-q8_0-name-not-.weight.gguf":   g(nil, 0, ggufwrite.Tensor{Name: "w", Dims: []uint64{32}, Type: 8, Size: 34, Offset: -1}),
		"gguf-q4_0-scales-taken.gguf":       g(nil, 0, ggufwrite.Tensor{Name: "a.weight", Dims: []uint64{32}, Type: 2, Size: 18, Offset: -1}, f32("a.scales", 1)),
		"gguf-q4_0.gguf":                    g(nil, 0, ggufwrite.Tensor{Name: "blk.weight", Dims: []uint64{64, 2}, Type: 2, Size: 72, Offset: -1}),
		"gguf-bf16.gguf":                    g(nil, 0, ggufwrite.Tensor{Name: "a", Dims: []uint64{8}, Type: 30, Size: 16, Offset: -1}),
		"gguf-f64.gguf":                     g(nil, 0, ggufwrite.Tensor{Name: "a", Dims: []uint64{4}, Type: 28, Size: 32, Offset: -1}),
		"gguf-i32.gguf":                     g(nil, 0, ggufwrite.Tensor{Name: "a", Dims: []uint64{4}, Type: 26, Size: 16, Offset: -1}),
		"gguf-q4_k.gguf":                    g(nil, 0, ggufwrite.Tensor{Name: "a.weight", Dims: []uint64{256}, Type: 12, Size: 144, Offset: -1}),
		"safetensors-f32.safetensors":       st(formats.F32, 4),
		"safetensors-bf16.safetensors":      st(formats.BF16, 4),
		"safetensors-f64.safetensors":       st(formats.F64, 4),
		"safetensors-f8_e4m3.safetensors":   st(formats.F8_E4M3, 4),
		"safetensors-f8_e5m2.safetensors":   st(formats.F8_E5M2, 4),
		"npy-numpy-layout.npy":              npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", eight),
		"npy-keys-reordered.npy":            npy("{'shape': (2, 2), 'fortran_order': False, 'descr': '<f4', }", eight),
		"npy-no-spaces.npy":                 npy("{'descr':'<f4','fortran_order':False,'shape':(2,2)}", eight),
		"npy-big-endian-c8.npy":             npy("{'descr': '>c8', 'fortran_order': False, 'shape': (2,), }", eight),
		"npy-big-endian-f4.npy":             npy("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", eight),
		"npy-fortran.npy":                   npy("{'descr': '<i2', 'fortran_order': True, 'shape': (2, 4), }", eight),
		"npy-f8.npy":                        npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", eight),
		"npy-shape-wide-dims-(10, 1).npy":   npy("{'descr': '|u1', 'fortran_order': False, 'shape': (10, 1), }", eight[:10]),
		"npy-one-dim-without-comma-(4).npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", eight),
		"npy-version-3.npy":                 append([]byte("\x93NUMPY\x03\x00\x76\x00\x00\x00"), append([]byte("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"+strings.Repeat(" ", 60)+"\n"), eight...)...),
	}
}

// aligned64 is a GGUF file with general.alignment 64 whose data section
// starts 32 bytes after where 32-byte alignment would put it.
func aligned64() []byte {
	for n := 1; ; n++ {
		b := ggufwrite.File{Align: 64, KVs: []ggufwrite.KV{{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(64)},
			{Key: "general.name", VT: gguf.String, Val: strings.Repeat("x", n)}},
			Tensors: []ggufwrite.Tensor{{Name: "a", Dims: []uint64{3}, Type: 0, Size: 12, Offset: -1}, {Name: "b", Dims: []uint64{8}, Type: 0, Size: 32, Offset: -1}}}.Build()
		f, err := gguf.NewReader(bytes.NewReader(b), int64(len(b)), formats.Limits{})
		if err == nil && (f.HeaderEnd+31)/32*32 != f.DataStart {
			return b
		}
	}
}

// TestMLXProfileRulesAgainstMLX runs a file per MLX-profile rule through
// real MLX (MODELGATE_MLX_LOADER): a file the profile accepts must be read
// as modelgate converts it for MLX; a file it refuses must be one MLX
// refuses, crashes on or reads otherwise than the spec. Local only.
func TestMLXProfileRulesAgainstMLX(t *testing.T) {
	mlx := consumers.MLX(t)
	if mlx == nil {
		t.Skip("MODELGATE_MLX_LOADER is not set")
	}
	dir := t.TempDir()
	for name, b := range mlxRuleCases() {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(p, b, 0o600))
			verdict, mine := mlxReading(p)
			mine.Normalise(p, false)
			spec, hasSpec := specReading(p)
			rd := mlx.Read(p)
			rd.Normalise(p, false)
			outcome := rd.Outcome()
			switch {
			case outcome != "reads":
			case verdict == "accept" && consumers.Diff(mine, rd) == "":
				outcome = "reads as modelgate converts"
			case hasSpec && consumers.Diff(spec, rd) == "":
				outcome = "reads as the spec"
			case hasSpec:
				outcome = "misreads: " + consumers.Diff(spec, rd)
			default:
				outcome = "reads (no spec reading to compare)"
			}
			t.Logf("MLX-RULE %-36s profile=%-12s mlx: %s %s%s", name, verdict, outcome, rd.Error, rd.Crash)
			if verdict == "accept" {
				assert.Equal(t, "reads as modelgate converts", outcome, "the profile accepts %s, and MLX: %s", name, consumers.Diff(mine, rd))
			} else {
				assert.NotEqual(t, "reads as the spec", outcome, "the profile refuses %s (%s), but MLX reads it correctly", name, mine.Error)
			}
		})
	}
}
