// Package ggufwrite writes GGUF files from the spec (ggml docs/gguf.md),
// valid ones and ones that break each rule, for tests: it is written from
// the spec independently of formats/gguf's reader.
package ggufwrite

import (
	"bytes"
	"encoding/binary"

	"github.com/modelgate/modelgate/formats/gguf"
)

// KV is one metadata pair to write; Elem is an array's element type.
type KV struct {
	Key       string
	VT, Elem  gguf.ValueType
	Val       any
	RawLength uint64 // if non-zero, the string or array length written instead
}

// Tensor is one tensor to write; Offset -1 places it after the one
// before, at the next multiple of the alignment.
type Tensor struct {
	Name   string
	Dims   []uint64
	Type   gguf.Type
	Size   int64
	Offset int64
}

// File describes a GGUF file, written from the spec (ggml docs/gguf.md),
// including files that break it.
type File struct {
	Version  uint32
	NTensors uint64 // if non-zero, written instead of len(tensors)
	NKV      uint64 // likewise
	Align    int64  // the alignment used for layout (general.alignment is a kv)
	KVs      []KV
	Tensors  []Tensor
	Trailer  []byte
	Pad      byte // padding byte (0 normally)
}

// LE encodes v little-endian.
func LE(v any) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

func str(s string, n uint64) []byte {
	if n == 0 {
		n = uint64(len(s))
	}
	return append(LE(n), s...)
}

func value(vt gguf.ValueType, v any) []byte {
	switch vt {
	case gguf.String:
		return str(v.(string), 0)
	case gguf.Bool:
		return []byte{v.(byte)}
	}
	return LE(v)
}

// Build returns the file's bytes.
func (s File) Build() []byte {
	head, _ := s.Header()
	b := bytes.NewBuffer(head)
	start := int64(b.Len())
	align := cmpOr(s.Align, 32)
	for _, t := range s.Tensors {
		for int64(b.Len()) < start+t.Offset {
			b.WriteByte(0)
		}
		for i := int64(0); i < t.Size; i++ {
			b.WriteByte(byte(i))
		}
	}
	for (int64(b.Len())-start)%align != 0 && len(s.Tensors) > 0 {
		b.WriteByte(0)
	}
	b.Write(s.Trailer)
	return b.Bytes()
}

// Header returns the bytes up to the start of the data section, and the
// size of the whole file Build would write (without Trailer). Benchmarks
// write the header and extend the file sparsely to size, so that a
// multi-gigabyte model costs no memory to make.
func (s File) Header() (head []byte, size int64) {
	var b bytes.Buffer
	b.WriteString(gguf.Magic)
	b.Write(LE(cmpOr(s.Version, 3)))
	nt, nk := s.NTensors, s.NKV
	if nt == 0 {
		nt = uint64(len(s.Tensors))
	}
	if nk == 0 {
		nk = uint64(len(s.KVs))
	}
	b.Write(LE(nt))
	b.Write(LE(nk))
	for _, p := range s.KVs {
		b.Write(str(p.Key, 0))
		b.Write(LE(uint32(p.VT)))
		if p.VT != gguf.Array {
			b.Write(value(p.VT, p.Val))
			continue
		}
		b.Write(LE(uint32(p.Elem)))
		switch vals := p.Val.(type) {
		case []string:
			b.Write(LE(cmpOr(p.RawLength, uint64(len(vals)))))
			for _, v := range vals {
				b.Write(str(v, 0))
			}
		case []int32:
			b.Write(LE(cmpOr(p.RawLength, uint64(len(vals)))))
			b.Write(LE(vals))
		default:
			b.Write(LE(p.RawLength))
		}
	}
	align := cmpOr(s.Align, 32)
	var off int64
	for i := range s.Tensors {
		t := &s.Tensors[i]
		if t.Offset < 0 {
			t.Offset = (off + align - 1) / align * align
		}
		off = t.Offset + t.Size
		b.Write(str(t.Name, 0))
		b.Write(LE(uint32(len(t.Dims))))
		for _, d := range t.Dims {
			b.Write(LE(d))
		}
		b.Write(LE(uint32(t.Type)))
		b.Write(LE(uint64(t.Offset)))
	}
	for int64(b.Len())%align != 0 && len(s.Tensors) > 0 {
		b.WriteByte(s.Pad)
	}
	size = int64(b.Len())
	if len(s.Tensors) > 0 {
		size += (off + align - 1) / align * align
	}
	return b.Bytes(), size
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// every is a valid file with a tensor of every type and a pair of every
// value type.
// Every is a valid file with a tensor of every ggml type the spec lists
// and a pair of every value type.
func Every() File {
	s := File{KVs: []KV{
		{Key: "general.architecture", VT: gguf.String, Val: "llama"},
		{Key: "general.name", VT: gguf.String, Val: "every type"},
		{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(32)},
		{Key: "u8", VT: gguf.Uint8, Val: uint8(1)}, {Key: "i8", VT: gguf.Int8, Val: int8(-1)},
		{Key: "u16", VT: gguf.Uint16, Val: uint16(2)}, {Key: "i16", VT: gguf.Int16, Val: int16(-2)},
		{Key: "i32", VT: gguf.Int32, Val: int32(-3)}, {Key: "f32", VT: gguf.Float32, Val: float32(0.5)},
		{Key: "bool", VT: gguf.Bool, Val: byte(1)}, {Key: "u64", VT: gguf.Uint64, Val: uint64(4)},
		{Key: "i64", VT: gguf.Int64, Val: int64(-4)}, {Key: "f64", VT: gguf.Float64, Val: 0.25},
		{Key: "tokenizer.ggml.tokens", VT: gguf.Array, Elem: gguf.String, Val: []string{"<s>", "</s>", "hello"}},
		{Key: "tokenizer.ggml.token_type", VT: gguf.Array, Elem: gguf.Int32, Val: []int32{3, 3, 1}},
	}}
	for _, ty := range gguf.Types() {
		block, size := TypeSizes(ty)
		s.Tensors = append(s.Tensors, Tensor{Name: "t." + ty.String(), Dims: []uint64{uint64(2 * block), 3}, Type: ty, Size: 2 * 3 * size, Offset: -1})
	}
	return s
}

// TypeSizes are ggml's block and type sizes, restated from
// ggml-common.h independently of formats/gguf's table.
func TypeSizes(t gguf.Type) (block, size int64) {
	switch t.String() {
	case "F32", "I32":
		return 1, 4
	case "F16", "BF16", "I16":
		return 1, 2
	case "I8":
		return 1, 1
	case "I64", "F64":
		return 1, 8
	case "Q4_0", "IQ4_NL":
		return 32, 18
	case "Q4_1":
		return 32, 20
	case "Q5_0":
		return 32, 22
	case "Q5_1":
		return 32, 24
	case "Q8_0":
		return 32, 34
	case "Q8_1":
		return 32, 36
	case "MXFP4":
		return 32, 17
	}
	return 256, map[string]int64{"Q2_K": 84, "Q3_K": 110, "Q4_K": 144, "Q5_K": 176, "Q6_K": 210, "Q8_K": 292,
		"IQ2_XXS": 66, "IQ2_XS": 74, "IQ3_XXS": 98, "IQ1_S": 50, "IQ3_S": 110, "IQ2_S": 82, "IQ4_XS": 136,
		"IQ1_M": 56, "TQ1_0": 54, "TQ2_0": 66}[t.String()]
}
