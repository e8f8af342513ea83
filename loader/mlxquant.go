package loader

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
)

// mlxQuantized converts a GGUF tensor of ggml type Q4_0, Q4_1 or Q8_0,
// whose bytes b are the verified blocks, into the three arrays mx.load
// makes of it (gguf_load_quantized in mlx/io/gguf_quants.cpp at 846d176):
//
//   - NAME, uint32: the weights packed as MLX's affine quantization
//     packs them, 32/bits to a word, low bits first: a Q4 block's 16
//     low nibbles (its first 16 weights) then its 16 high nibbles; a Q8_0
//     block's 32 int8 weights with the sign bit flipped (x+128);
//   - PREFIX.scales, float16: each block's scale d;
//   - PREFIX.biases, float16: -8*d (Q4_0), the block's m (Q4_1), or
//     -128*d (Q8_0),
//
// where PREFIX is mlxQuantPrefix(NAME): NAME without ".weight", or NAME
// itself when shorter than 7 bytes (CheckMLX has made sure it is one of
// these, and that the two names are free). The shape is the tensor's, its
// last dimension times bits/32 for the weights and divided by 32 for the
// scales and biases. MLX dequantizes w = scale*q + bias, which is the
// ggml value of every weight (TestMLXQuantizedConvertDequantizesAsGGML).
func mlxQuantized(t Tensor, b []byte) []safetensors.Tensor {
	const perBlock = 32
	bits, blockBytes := int64(4), 18
	switch t.GGMLType {
	case "Q4_1":
		blockBytes = 20
	case "Q8_0":
		bits, blockBytes = 8, 34
	}
	blocks := len(b) / blockBytes
	weights := make([]byte, blocks*int(perBlock*bits/8))
	scales := make([]byte, 2*blocks)
	biases := make([]byte, 2*blocks)
	for i := range blocks {
		blk := b[i*blockBytes : (i+1)*blockBytes]
		d := binary.LittleEndian.Uint16(blk)
		binary.LittleEndian.PutUint16(scales[2*i:], d)
		switch t.GGMLType {
		case "Q4_0":
			binary.LittleEndian.PutUint16(biases[2*i:], f16Times(d, -8))
			repackNibbles(weights[16*i:16*i+16], blk[2:18])
		case "Q4_1":
			copy(biases[2*i:], blk[2:4])
			repackNibbles(weights[16*i:16*i+16], blk[4:20])
		case "Q8_0":
			binary.LittleEndian.PutUint16(biases[2*i:], f16Times(d, -128))
			for j, x := range blk[2:34] {
				weights[32*i+j] = x ^ 0x80
			}
		}
	}
	wShape := append([]int64(nil), t.Shape...)
	wShape[len(wShape)-1] = wShape[len(wShape)-1] * bits / 32
	sShape := append([]int64(nil), t.Shape...)
	sShape[len(sShape)-1] /= perBlock
	prefix, _ := mlxQuantPrefix(t.Name)
	return []safetensors.Tensor{
		{Name: t.Name, DType: formats.U32, Shape: wShape, Data: bytes.NewReader(weights)},
		{Name: prefix + ".scales", DType: formats.F16, Shape: sShape, Data: bytes.NewReader(scales)},
		{Name: prefix + ".biases", DType: formats.F16, Shape: sShape, Data: bytes.NewReader(biases)},
	}
}

// repackNibbles writes a ggml 4-bit block's 32 weights (q holds weight j
// in the low nibble of byte j and weight 16+j in its high nibble) in
// sequential order, two to a byte, low nibble first: MLX's unpack_32_4.
func repackNibbles(dst, q []byte) {
	for j := range 8 {
		dst[j] = q[2*j]&0x0F | q[2*j+1]<<4
		dst[8+j] = q[2*j]>>4 | q[2*j+1]&0xF0
	}
}

// f16Times multiplies the float16 h by k, a power of two, rounding to
// float16 as MLX's float16_t arithmetic does (exactly, but for overflow
// to infinity and underflow).
func f16Times(h uint16, k float32) uint16 {
	return f32ToF16(f16ToF32(h) * k)
}

func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1F
	frac := uint32(h) & 0x3FF
	switch {
	case exp == 0x1F:
		return math.Float32frombits(sign | 0xFF<<23 | frac<<13)
	case exp == 0: // subnormal: frac * 2^-24
		v := float32(frac) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// f32ToF16 rounds f to the nearest float16, ties to even.
func f32ToF16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int32(bits>>23) & 0xFF
	frac := bits & 0x7FFFFF
	switch {
	case exp == 0xFF: // inf, nan
		h := sign | 0x7C00
		if frac != 0 {
			h |= 0x200 | uint16(frac>>13)
		}
		return h
	case exp-127 > 15:
		return sign | 0x7C00
	case exp-127 >= -14:
		h := uint32(exp-127+15)<<10 | frac>>13
		rest := frac & 0x1FFF
		if rest > 0x1000 || rest == 0x1000 && h&1 == 1 {
			h++ // may carry into the exponent, up to infinity: correct
		}
		return sign | uint16(h)
	}
	// Subnormal or zero: value = m * 2^-24.
	m := float64(math.Abs(float64(f))) * (1 << 24)
	r := math.RoundToEven(m)
	return sign | uint16(r)
}
