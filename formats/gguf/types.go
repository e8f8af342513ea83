package gguf

import "github.com/modelgate/modelgate/formats"

// Type is a ggml tensor type (enum ggml_type).
type Type uint32

// typeInfo is one row of ggml's type_traits table (ggml/src/ggml.c): the
// elements in one block and the bytes one block takes, and the safetensors
// dtype the type is, for types that are plain arrays.
type typeInfo struct {
	name  string
	block int64
	size  int64
	dtype formats.DType
}

// types is ggml's type table (enum ggml_type in include/ggml.h, blck_size
// and type_size in src/ggml.c's type_traits, the block structs of
// src/ggml-common.h) at ggml-org/ggml d99724f2b141fed9e1a9f402213506c081433465
// (2026-08-21), up to Q2_0 = 42 (GGML_TYPE_COUNT 43). Numbers ggml lists
// as removed (4, 5, 31-33, 36-38) and numbers past its table are not in
// it: a file using them is refused, as gguf_init_from_file refuses a type
// at or past GGML_TYPE_COUNT or with no block size.
var types = map[Type]typeInfo{
	0:  {"F32", 1, 4, formats.F32},
	1:  {"F16", 1, 2, formats.F16},
	2:  {"Q4_0", 32, 18, 0},
	3:  {"Q4_1", 32, 20, 0},
	6:  {"Q5_0", 32, 22, 0},
	7:  {"Q5_1", 32, 24, 0},
	8:  {"Q8_0", 32, 34, 0},
	9:  {"Q8_1", 32, 36, 0},
	10: {"Q2_K", 256, 84, 0},
	11: {"Q3_K", 256, 110, 0},
	12: {"Q4_K", 256, 144, 0},
	13: {"Q5_K", 256, 176, 0},
	14: {"Q6_K", 256, 210, 0},
	15: {"Q8_K", 256, 292, 0},
	16: {"IQ2_XXS", 256, 66, 0},
	17: {"IQ2_XS", 256, 74, 0},
	18: {"IQ3_XXS", 256, 98, 0},
	19: {"IQ1_S", 256, 50, 0},
	20: {"IQ4_NL", 32, 18, 0},
	21: {"IQ3_S", 256, 110, 0},
	22: {"IQ2_S", 256, 82, 0},
	23: {"IQ4_XS", 256, 136, 0},
	24: {"I8", 1, 1, formats.I8},
	25: {"I16", 1, 2, formats.I16},
	26: {"I32", 1, 4, formats.I32},
	27: {"I64", 1, 8, formats.I64},
	28: {"F64", 1, 8, formats.F64},
	29: {"IQ1_M", 256, 56, 0},
	30: {"BF16", 1, 2, formats.BF16},
	34: {"TQ1_0", 256, 54, 0},
	35: {"TQ2_0", 256, 66, 0},
	39: {"MXFP4", 32, 17, 0},
	40: {"NVFP4", 64, 36, 0}, // 4 UE4M3 scales, 32 bytes of E2M1 pairs
	41: {"Q1_0", 128, 18, 0}, // ggml_half d, 16 bytes of bits
	42: {"Q2_0", 64, 18, 0},  // ggml_half d, 16 bytes of 2-bit quants
}

// String names the type as ggml does (upper case), or "type N".
func (t Type) String() string {
	if info, ok := types[t]; ok {
		return info.name
	}
	return "type " + itoa(uint64(t))
}

// Quantized reports whether the type is block-quantized (no safetensors
// dtype holds it as stored).
func (t Type) Quantized() bool {
	info, ok := types[t]
	return ok && info.dtype == 0
}

// DType returns the safetensors dtype of a plain-array type.
func (t Type) DType() (formats.DType, bool) {
	info, ok := types[t]
	return info.dtype, ok && info.dtype != 0
}

// Types lists every type the reader accepts, in enum order.
func Types() []Type {
	out := make([]Type, 0, len(types))
	for t := Type(0); t < 64; t++ {
		if _, ok := types[t]; ok {
			out = append(out, t)
		}
	}
	return out
}

// ValueType is a metadata value's type (enum gguf_metadata_value_type).
type ValueType uint32

// The metadata value types.
const (
	Uint8 ValueType = iota
	Int8
	Uint16
	Int16
	Uint32
	Int32
	Float32
	Bool
	String
	Array
	Uint64
	Int64
	Float64
)

var valueNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

// String names the value type as the spec does.
func (v ValueType) String() string {
	if int(v) < len(valueNames) {
		return valueNames[v]
	}
	return "value type " + itoa(uint64(v))
}

// fixedSize is the encoded size of a scalar value type (0 for string and
// array).
func (v ValueType) fixedSize() int64 {
	switch v {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16:
		return 2
	case Uint32, Int32, Float32:
		return 4
	case Uint64, Int64, Float64:
		return 8
	}
	return 0
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
