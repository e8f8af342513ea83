package formats

// DType is an element type, named as safetensors names it. The numeric order
// of the constants is the order of the safetensors reference implementation's
// Dtype enum (increasing alignment), which its writer uses to order tensors.
type DType uint8

// The element types of the safetensors format. InvalidDType is the zero
// value and never names a real type.
const (
	InvalidDType DType = iota
	BOOL
	F4
	F6_E2M3
	F6_E3M2
	U8
	I8
	F8_E5M2
	F8_E4M3
	F8_E8M0
	F8_E4M3FNUZ
	F8_E5M2FNUZ
	I16
	U16
	F16
	BF16
	I32
	U32
	F32
	C64
	F64
	I64
	U64
	numDTypes
)

var dtypeNames = [numDTypes]string{
	BOOL: "BOOL", F4: "F4", F6_E2M3: "F6_E2M3", F6_E3M2: "F6_E3M2",
	U8: "U8", I8: "I8", F8_E5M2: "F8_E5M2", F8_E4M3: "F8_E4M3",
	F8_E8M0: "F8_E8M0", F8_E4M3FNUZ: "F8_E4M3FNUZ", F8_E5M2FNUZ: "F8_E5M2FNUZ",
	I16: "I16", U16: "U16", F16: "F16", BF16: "BF16", I32: "I32", U32: "U32",
	F32: "F32", C64: "C64", F64: "F64", I64: "I64", U64: "U64",
}

var dtypeBits = [numDTypes]int64{
	BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8,
	F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8,
	I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32,
	F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
}

// AllDTypes lists every valid DType in enum order.
func AllDTypes() []DType {
	out := make([]DType, 0, numDTypes-1)
	for d := BOOL; d < numDTypes; d++ {
		out = append(out, d)
	}
	return out
}

// ParseDType returns the DType spelled s in safetensors spelling ("F32"),
// and false if s names no DType. The match is exact (case-sensitive).
func ParseDType(s string) (DType, bool) {
	for d := BOOL; d < numDTypes; d++ {
		if dtypeNames[d] == s {
			return d, true
		}
	}
	return InvalidDType, false
}

// Valid reports whether d is one of the defined types.
func (d DType) Valid() bool { return d > InvalidDType && d < numDTypes }

// String returns the safetensors spelling of d, or "INVALID".
func (d DType) String() string {
	if !d.Valid() {
		return "INVALID"
	}
	return dtypeNames[d]
}

// Bits returns the size of one element in bits (4 for F4, 6 for F6_*), or 0
// for an invalid DType.
func (d DType) Bits() int64 {
	if !d.Valid() {
		return 0
	}
	return dtypeBits[d]
}

// MarshalText encodes d in safetensors spelling.
func (d DType) MarshalText() ([]byte, error) {
	if !d.Valid() {
		return nil, Errorf(KindMalformed, NoOffset, "invalid dtype %d", uint8(d))
	}
	return []byte(d.String()), nil
}
