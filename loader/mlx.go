package loader

import (
	"math"

	"github.com/modelgate/modelgate/formats"
)

// mlxRefused are safetensors dtypes MLX cannot load: F64 (MLX refuses it),
// F8_E5M2, the FNUZ types and the sub-byte F4 and F6 types.
var mlxRefused = map[formats.DType]bool{
	formats.F64: true, formats.F8_E5M2: true, formats.F8_E4M3FNUZ: true, formats.F8_E5M2FNUZ: true,
	formats.F4: true, formats.F6_E2M3: true, formats.F6_E3M2: true,
}

// mlxRaw are dtypes MLX loads as raw uint8, which a caller must know to
// reinterpret.
var mlxRaw = map[formats.DType]bool{formats.F8_E4M3: true, formats.F8_E8M0: true}

// CheckMLX refuses, with kind unsupported, what Apple's MLX would misread
// or cannot represent: the dtypes above on safetensors, F8_E4M3 and
// F8_E8M0 unless allowRawFP8 (MLX loads them as uint8), float64 npy arrays
// (MLX's npy reader misreads "<f8"), and dimensions above the int32 range
// (MLX truncates them) whatever the limits allowed. npz member names that
// collide once ".npy" is stripped are refused by the npz reader itself.
func CheckMLX(f *File, allowRawFP8 bool) error {
	for _, t := range f.Tensors {
		if err := checkMLXTensor(f.Format, t, allowRawFP8); err != nil {
			return err.WithField(t.Name)
		}
	}
	return nil
}

func checkMLXTensor(format formats.Format, t Tensor, allowRawFP8 bool) *formats.Error {
	for _, d := range t.Shape {
		if d > math.MaxInt32 {
			return formats.Errorf(formats.KindUnsupported, t.Offset, "dimension %d is beyond int32; MLX would truncate it", d)
		}
	}
	switch {
	case format == formats.FormatSafetensors && mlxRefused[t.DType]:
		return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX cannot load %s tensors", t.DType)
	case format == formats.FormatSafetensors && mlxRaw[t.DType] && !allowRawFP8:
		return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX loads %s as raw uint8; allow it explicitly (WithRawFP8Unsafe, --allow-raw-fp8) if the caller reinterprets it", t.DType)
	case format != formats.FormatSafetensors && t.DType == formats.F64:
		return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX's npy reader misreads float64 (%s) arrays; convert to safetensors with another dtype", t.Descr)
	}
	return nil
}
