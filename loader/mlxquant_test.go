package loader

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/internal/ggufwrite"
)

// TestFloat16RoundTrip: every float16 but NaN survives f16ToF32 then
// f32ToF16, and ties round to even.
func TestFloat16RoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		f := f16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		require.Equal(t, uint16(h), f32ToF16(f), "%#04x (%g)", h, f)
	}
	assert.Equal(t, uint16(0x3C00), f32ToF16(1+1.0/2048), "a tie rounds to the even 1.0")
	assert.Equal(t, uint16(0x3C02), f32ToF16(1+3.0/2048), "a tie rounds to the even 1+2^-9")
	assert.Equal(t, uint16(0xFC00), f16Times(0x7800, -128), "-128 * 32768 overflows to -inf, as in float16 arithmetic")
}

// ggmlValue is weight k of a quantized block as ggml dequantizes it
// (dequantize_row_q4_0, _q4_1, _q8_0): from the block's own layout.
func ggmlValue(typ string, blk []byte, k int) float64 {
	d := float64(f16ToF32(binary.LittleEndian.Uint16(blk)))
	nibble := func(q []byte) float64 {
		if k < 16 {
			return float64(q[k] & 0x0F)
		}
		return float64(q[k-16] >> 4)
	}
	switch typ {
	case "Q4_0":
		return d * (nibble(blk[2:]) - 8)
	case "Q4_1":
		return d*nibble(blk[4:]) + float64(f16ToF32(binary.LittleEndian.Uint16(blk[2:])))
	}
	return d * float64(int8(blk[2+k]))
}

// TestMLXQuantizedConvertDequantizesAsGGML converts Q4_0, Q4_1 and Q8_0
// tensors of random blocks under the MLX profile and dequantizes the
// output as MLX does (w = scale*q + bias, q the packed values low bits
// first): every weight equals ggml's own dequantization of the block.
func TestMLXQuantizedConvertDequantizesAsGGML(t *testing.T) {
	types := map[string]struct {
		t     gguf.Type
		block int
		bits  int
	}{"Q4_0": {2, 18, 4}, "Q4_1": {3, 20, 4}, "Q8_0": {8, 34, 8}}
	f := ggufwrite.File{}
	for name, ty := range types {
		f.Tensors = append(f.Tensors, ggufwrite.Tensor{Name: "blk." + name + ".weight", Dims: []uint64{64, 3}, Type: ty.t, Size: int64(6 * ty.block), Offset: -1})
	}
	b := f.Build()
	g, err := gguf.NewReader(bytes.NewReader(b), int64(len(b)), formats.DefaultLimits())
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(4, 0))
	for _, tn := range g.Tensors {
		blockBytes := types[tn.Type.String()].block
		for i := tn.Offset; i < tn.Offset+tn.Size; i++ {
			b[i] = byte(r.Uint32())
		}
		for blk := tn.Offset; blk < tn.Offset+tn.Size; blk += int64(blockBytes) {
			// Scales (and Q4_1's m) in a range where 128*d stays finite.
			binary.LittleEndian.PutUint16(b[blk:], f32ToF16(float32(r.NormFloat64()*0.05)))
			if tn.Type.String() == "Q4_1" {
				binary.LittleEndian.PutUint16(b[blk+2:], f32ToF16(float32(r.NormFloat64())))
			}
		}
	}
	p := filepath.Join(t.TempDir(), "q.gguf")
	require.NoError(t, os.WriteFile(p, b, 0o600))

	plain, err := Open(context.Background(), p)
	require.NoError(t, err)
	var out bytes.Buffer
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(plain.WriteSafetensors(&out)), "quantized tensors convert under the MLX profile only")
	plain.Close()

	m, err := Open(context.Background(), p, WithProfile(ProfileMLX))
	require.NoError(t, err)
	defer m.Close()
	out.Reset()
	require.NoError(t, m.WriteSafetensors(&out))
	st, err := safetensors.NewReaderBytes(out.Bytes(), formats.DefaultLimits())
	require.NoError(t, err)
	read := func(name string) (formats.TensorInfo, []byte) {
		ti, ok := st.Tensor(name)
		require.True(t, ok, name)
		sr, _ := st.Section(name)
		data, err := io.ReadAll(sr)
		require.NoError(t, err)
		return ti, data
	}
	for _, tn := range g.Tensors {
		typ := tn.Type.String()
		ty := types[typ]
		prefix := "blk." + typ
		w, wb := read(prefix + ".weight")
		s, sb := read(prefix + ".scales")
		_, bb := read(prefix + ".biases")
		assert.Equal(t, formats.U32, w.DType)
		assert.Equal(t, []int64{3, 64 * int64(ty.bits) / 32}, w.Shape)
		assert.Equal(t, formats.F16, s.DType)
		assert.Equal(t, []int64{3, 2}, s.Shape)
		src := b[tn.Offset : tn.Offset+tn.Size]
		for blk := range 6 {
			scale := float64(f16ToF32(binary.LittleEndian.Uint16(sb[2*blk:])))
			bias := float64(f16ToF32(binary.LittleEndian.Uint16(bb[2*blk:])))
			for k := range 32 {
				i := blk*32 + k
				var q float64
				if ty.bits == 4 {
					q = float64(wb[i/2] >> (4 * (i % 2)) & 0x0F)
				} else {
					q = float64(wb[i])
				}
				want := ggmlValue(typ, src[blk*ty.block:], k)
				require.Equal(t, want, scale*q+bias, "%s block %d weight %d", typ, blk, k)
			}
		}
	}
}
