package mlxarray

import (
	"math"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// DType is an mlx_dtype: its values are those of mlx-c's enum at fba4470.
type DType int

// The mlx_dtype values, in mlx-c's order.
const (
	Bool DType = iota
	Uint8
	Uint16
	Uint32
	Uint64
	Int8
	Int16
	Int32
	Int64
	Float16
	Float32
	Float64
	BFloat16
	Complex64
)

var names = [...]string{"bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"}

func (d DType) String() string {
	if d < 0 || int(d) >= len(names) {
		return "invalid"
	}
	return names[d]
}

// dtypes maps each dtype whose bytes MLX reads as they are stored. The
// others (FP8, FP6, FP4, GGUF block types) have no MLX dtype of their own.
var dtypes = map[formats.DType]DType{
	formats.BOOL: Bool, formats.U8: Uint8, formats.U16: Uint16, formats.U32: Uint32, formats.U64: Uint64,
	formats.I8: Int8, formats.I16: Int16, formats.I32: Int32, formats.I64: Int64,
	formats.F16: Float16, formats.BF16: BFloat16, formats.F32: Float32, formats.F64: Float64,
	formats.C64: Complex64,
}

// Check says whether t can become an MLX array as it is stored, and with
// which dtype and shape. It refuses, with KindUnsupported, a dtype MLX has
// no exact counterpart for (a GGUF block type included), and npy data that
// is big-endian or in Fortran order (convert writes it canonically); with
// KindLimitExceeded a dimension over MLX's int; with KindMalformed a size
// other than the shape's.
func Check(t loader.ModelTensor) (DType, []int, error) {
	d, ok := dtypes[t.DType]
	if !ok {
		what := t.DType.String()
		if t.GGMLType != "" {
			what = "ggml " + t.GGMLType
		}
		return 0, nil, formats.Errorf(formats.KindUnsupported, t.Offset, "tensor %q: dtype %s has no MLX dtype", t.Name, what)
	}
	if t.BigEndian && t.DType.Bits() > 8 {
		return 0, nil, formats.Errorf(formats.KindUnsupported, t.Offset, "tensor %q: big-endian data; MLX reads little-endian (convert it first)", t.Name)
	}
	if t.FortranOrder && len(t.Shape) > 1 {
		return 0, nil, formats.Errorf(formats.KindUnsupported, t.Offset, "tensor %q: Fortran-order data; MLX reads C order (convert it first)", t.Name)
	}
	shape := make([]int, len(t.Shape))
	for i, n := range t.Shape {
		if n < 0 || n > math.MaxInt32 {
			return 0, nil, formats.Errorf(formats.KindLimitExceeded, t.Offset, "tensor %q: dimension %d is %d, over MLX's int", t.Name, i, n)
		}
		shape[i] = int(n)
	}
	// MLX copies as many bytes as the shape says: the loader checked this
	// when it parsed the file; check it again where a short read would be
	// out of bounds.
	if want := t.NumElements() * t.DType.Bits() / 8; t.Size != want {
		return 0, nil, formats.Errorf(formats.KindMalformed, t.Offset, "tensor %q: %d bytes for a %s of shape %v (%d bytes)", t.Name, t.Size, t.DType, t.Shape, want)
	}
	return d, shape, nil
}
