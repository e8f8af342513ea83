package loader_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/internal/ggufwrite"
	"github.com/modelgate/modelgate/loader"
)

// mlxTensor is a tensor as MLX's GGUF loader finds it.
type mlxTensor struct {
	Name   string
	Type   uint32
	Shape  []uint64 // MLX order: ggml's dims reversed
	Offset uint64   // absolute
}

// mlxGGUFView transcribes how MLX reads a GGUF header: gguflib's
// gguf_get_key, gguf_set_data_offset and gguf_get_tensor (gguflib.c at
// antirez/gguf-tools 8fa6eb6, the GIT_TAG of mlx/io/CMakeLists.txt at
// 846d176: the alignment is a uint32 "general.alignment", 32 without it;
// the misspelt "general.alignmnet" is read only before e5cdcec) and MLX's
// load_metadata and set_mx_value_from_gguf (mlx/io/gguf.cpp at
// ml-explore/mlx 846d176), which advance past each value by the size of
// the array it stores: float64 values become float32 and advance 4 bytes
// each. It reads the bytes as the C code does, without
// bounds checks of its own; where the C code would read out of bounds, the
// Go slice panics, and ok is false.
func mlxGGUFView(b []byte) (tensors []mlxTensor, ok bool) {
	defer func() {
		if recover() != nil {
			tensors, ok = nil, false
		}
	}()
	u32 := func(o uint64) uint32 { return binary.LittleEndian.Uint32(b[o : o+4]) }
	u64 := func(o uint64) uint64 { return binary.LittleEndian.Uint64(b[o : o+8]) }
	scalar := map[uint32]uint64{0: 1, 1: 1, 7: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 10: 8, 11: 8, 12: 4}
	nTensors, nKV := u64(8), u64(16)
	off, alignment := uint64(24), uint64(32)
	for range nKV {
		n := u64(off)
		name := string(b[off+8 : off+8+n])
		typ := u32(off + 8 + n)
		off += 8 + n + 4
		if typ == 4 && name == "general.alignment" {
			alignment = uint64(u32(off))
		}
		switch typ {
		case 8:
			off += 8 + u64(off)
		case 9:
			elem, count := u32(off), int32(u64(off+4)) // static_cast<int>
			off += 12
			if elem == 9 {
				return nil, false // MLX throws on nested arrays
			}
			for range count {
				if elem == 8 {
					off += 8 + u64(off)
				} else {
					off += scalar[elem]
				}
			}
		default:
			off += scalar[typ]
		}
	}
	// gguf_set_data_offset, then gguf_get_tensor for each.
	end := off
	for range nTensors {
		end += 8 + u64(end)
		end += 4 + 8*uint64(u32(end)) + 4 + 8
	}
	dataOff := end + (alignment-end%alignment)%alignment
	for range nTensors {
		n := u64(off)
		t := mlxTensor{Name: string(b[off+8 : off+8+n])}
		off += 8 + n
		nd := u32(off)
		off += 4
		dims := make([]uint64, nd)
		for j := range dims {
			dims[j] = u64(off)
			off += 8
		}
		slices.Reverse(dims)
		t.Shape = dims
		t.Type = u32(off)
		if t.Type >= 31 { // GGUF_TYPE_COUNT at 8fa6eb6: gguf_get_tensor returns 0
			break
		}
		t.Offset = dataOff + u64(off+4)
		off += 12
		tensors = append(tensors, t)
	}
	return tensors, true
}

// mlxProfileFiles are GGUF files to hold the MLX profile to: the committed
// fixtures, and generated ones mixing every metadata type MLX reads, the
// tensor types it loads, alignments and name lengths.
func mlxProfileFiles(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	paths, err := filepath.Glob("../testdata/gguf/*.gguf")
	require.NoError(t, err)
	hostile, err := filepath.Glob("../testdata/gguf/hostile/*.gguf")
	require.NoError(t, err)
	for _, p := range append(paths, hostile...) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[p] = b
	}
	r := rand.New(rand.NewPCG(14, 15))
	kvs := []ggufwrite.KV{
		{Key: "general.architecture", VT: gguf.String, Val: "llama"},
		{Key: "u8", VT: gguf.Uint8, Val: uint8(1)}, {Key: "i16", VT: gguf.Int16, Val: int16(-2)},
		{Key: "u32", VT: gguf.Uint32, Val: uint32(3)}, {Key: "f32", VT: gguf.Float32, Val: float32(0.5)},
		{Key: "b", VT: gguf.Bool, Val: byte(1)}, {Key: "u64", VT: gguf.Uint64, Val: uint64(1 << 40)},
		{Key: "i64", VT: gguf.Int64, Val: int64(-5)}, {Key: "toks", VT: gguf.Array, Elem: gguf.String, Val: []string{"a", "bb", "ccc"}},
		{Key: "ids", VT: gguf.Array, Elem: gguf.Int32, Val: []int32{1, 2, 3, 4, 5}},
		{Key: "rope", VT: gguf.Float64, Val: float64(10000)},
		{Key: "scores", VT: gguf.Array, Elem: gguf.Float64, Val: []float64{1, 2, 3}},
	}
	types := []struct {
		t     gguf.Type
		block int64
		size  int64
	}{{0, 1, 4}, {1, 1, 2}, {24, 1, 1}, {25, 1, 2}, {26, 1, 4}, {2, 32, 18}, {3, 32, 20}, {8, 32, 34}, {40, 64, 36}}
	for i := range 300 {
		f := ggufwrite.File{}
		if r.IntN(4) == 0 {
			f.Align = 64
			f.KVs = append(f.KVs, ggufwrite.KV{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(64)})
		}
		for _, k := range r.Perm(len(kvs))[:r.IntN(len(kvs))] {
			f.KVs = append(f.KVs, kvs[k])
		}
		for j := range 1 + r.IntN(4) {
			ty := types[r.IntN(len(types))]
			rows := uint64(1 + r.IntN(3))
			name := fmt.Sprintf("blk.%d.%s.weight", j, strings.Repeat("x", r.IntN(9)))
			f.Tensors = append(f.Tensors, ggufwrite.Tensor{Name: name, Dims: []uint64{uint64(ty.block) * 2, rows}, Type: ty.t, Size: 2 * int64(rows) * ty.size, Offset: -1})
		}
		out[fmt.Sprintf("generated-%03d", i)] = f.Build()
	}
	return out
}

// TestGGUFProfileAgreesWithMLXReading: every GGUF file the MLX profile
// accepts is read by the transcription of gguflib and MLX's load_metadata
// with the same tensors, in MLX's order and shape, at the same offsets as
// modelgate reads them; and among the files modelgate accepts without the
// profile, MLX reads differently exactly those the profile refuses.
func TestGGUFProfileAgreesWithMLXReading(t *testing.T) {
	dir := t.TempDir()
	var accepted, differ int
	for name, b := range mlxProfileFiles(t) {
		p := filepath.Join(dir, "m.gguf")
		writeFile(t, p, b)
		plain, err := loader.Open(ctx, p)
		if err != nil {
			continue
		}
		var want []mlxTensor
		for _, tn := range plain.Files[0].GGUF().Tensors {
			want = append(want, mlxTensor{Name: tn.Name, Type: uint32(tn.Type), Shape: toU64(tn.Shape), Offset: uint64(tn.Offset)})
		}
		plain.Close()
		got, ok := mlxGGUFView(b)
		same := ok && sameTensors(want, got)
		m, err := loader.Open(ctx, p, loader.WithProfile(loader.ProfileMLX))
		if err == nil {
			m.Close()
			accepted++
			assert.True(t, same, "%s: accepted under the MLX profile, and MLX reads %v where modelgate reads %v", name, got, want)
			continue
		}
		if !same {
			differ++
		}
	}
	t.Logf("%d files accepted under the MLX profile, all read alike; %d refused that MLX reads differently", accepted, differ)
	require.Greater(t, accepted, 50)
	require.Greater(t, differ, 20, "the header checks are exercised")
}

func toU64(s []int64) []uint64 {
	out := make([]uint64, len(s))
	for i, v := range s {
		out[i] = uint64(v)
	}
	return out
}

// sameTensors compares tensors as sets: MLX builds a map by name.
func sameTensors(a, b []mlxTensor) bool {
	if len(a) != len(b) {
		return false
	}
	byName := map[string]mlxTensor{}
	for _, t := range b {
		byName[t.Name] = t
	}
	for _, t := range a {
		u, ok := byName[t.Name]
		if !ok || u.Type != t.Type || u.Offset != t.Offset || !slices.Equal(u.Shape, t.Shape) {
			return false
		}
	}
	return true
}
