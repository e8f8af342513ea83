package formats

import "math"

// TensorInfo describes one tensor as stored in a file.
type TensorInfo struct {
	Name   string  `json:"name"`
	DType  DType   `json:"dtype"`
	Shape  []int64 `json:"shape"`  // empty for a scalar
	Offset int64   `json:"offset"` // absolute byte offset of the data in the file
	Size   int64   `json:"size"`   // bytes of data
}

// NumElements returns the product of t's shape (1 for a scalar). The shape
// was checked when t was parsed, so the product does not overflow.
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// MulInt64 returns a*b and whether it fits in an int64, for non-negative a
// and b.
func MulInt64(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	if a != 0 && b > math.MaxInt64/a {
		return 0, false
	}
	return a * b, true
}

// AddInt64 returns a+b and whether it fits in an int64, for non-negative a
// and b.
func AddInt64(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// DataSize checks shape against lim (rank, each dimension) and returns the
// number of bytes a tensor of dtype d and that shape occupies. Every product
// is checked for overflow, and a sub-byte type whose bits do not fill whole
// bytes is refused. offset is reported in errors.
func DataSize(d DType, shape []int64, lim Limits, offset int64) (int64, *Error) {
	if !d.Valid() {
		return 0, Errorf(KindMalformed, offset, "invalid dtype")
	}
	if int64(len(shape)) > lim.MaxRank {
		return 0, Exceeded(offset, "rank", int64(len(shape)), "MaxRank", lim.MaxRank)
	}
	elems := int64(1)
	for i, dim := range shape {
		if dim < 0 {
			return 0, Errorf(KindMalformed, offset, "dimension %d is negative (%d)", i, dim)
		}
		if dim > lim.MaxDim {
			return 0, Exceeded(offset, "dimension", dim, "MaxDim", lim.MaxDim)
		}
		var ok bool
		if elems, ok = MulInt64(elems, dim); !ok {
			return 0, Errorf(KindMalformed, offset, "shape %v: element count overflows int64", shape)
		}
	}
	bits, ok := MulInt64(elems, d.Bits())
	if !ok {
		return 0, Errorf(KindMalformed, offset, "shape %v of %s: bit count overflows int64", shape, d)
	}
	if bits%8 != 0 {
		return 0, Errorf(KindMalformed, offset, "shape %v of %s is %d bits, not a whole number of bytes", shape, d, bits)
	}
	return bits / 8, nil
}
