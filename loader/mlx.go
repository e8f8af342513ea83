package loader

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/formats"
)

// mlxRefused are safetensors dtypes MLX cannot load: F64 (MLX refuses it),
// F8_E5M2, the FNUZ types and the sub-byte F4 and F6 types.
var mlxRefused = map[formats.DType]bool{
	formats.F64: true, formats.F8_E5M2: true, formats.F8_E4M3FNUZ: true, formats.F8_E5M2FNUZ: true,
	formats.F4: true, formats.F6_E2M3: true, formats.F6_E3M2: true,
}

// ErrRawFP8 is the cause of a refusal of F8_E4M3 or F8_E8M0 tensors under
// ProfileMLX: MLX loads them as raw uint8, and only a caller that
// reinterprets them may allow them (WithRawFP8Unsafe).
var ErrRawFP8 = errors.New("raw FP8 tensors are not allowed")

// mlxRaw are dtypes MLX loads as raw uint8, which a caller must know to
// reinterpret.
var mlxRaw = map[formats.DType]bool{formats.F8_E4M3: true, formats.F8_E8M0: true}

// CheckMLX refuses, with kind unsupported, what Apple's MLX would misread,
// refuse or cannot represent, and accepts what it loads as numpy does.
//
// safetensors: the dtypes MLX refuses (F64, F8_E5M2, the FNUZ types, F4,
// F6); F8_E4M3 and F8_E8M0 unless allowRawFP8 (MLX loads them as raw
// uint8); dimensions above the int32 range (MLX truncates them).
//
// GGUF: only the ggml types mlx/io/gguf.cpp loads (F32, F16, I8, I16,
// I32, Q4_0, Q4_1, Q8_0); the reader already holds every tensor to 1-4
// positive dimensions, aligned offsets inside the file and unique names.
//
// npy, and npz members (mx.load reads each member with the same reader):
// MLX's reader (mlx/io/load.cpp, load()) does not parse the header; it
// reads it by position. Each behaviour, and what CheckMLX requires:
//
//	load.cpp                                    behaviour                         required here
//	read_magic_and_ver[6] != 1 && != 2          versions 1 and 2 only             version 1.0 or 2.0
//	std::string header(&buffer[0])              header cut at its first NUL       (npy refuses NUL)
//	header.substr(11, 3)                        descr is bytes 11-13              "{'descr': '" first, a 3-byte descr
//	dtype_from_array_protocol                   '<f8' float64 (since PR #2960),   f2, f4, f8, i*, u*, b1, c8
//	                                            any 'c' complex64
//	header[34] == 'T'                           fortran_order read at byte 34     'fortran_order' second, as numpy spaces it
//	find_last_of('(') / (')'), stoi, pos + 2    shape read from the last parens,  shape third, "(2, 3)", "(3,)", "()"
//	                                            skipping two bytes per number
//	Load(..., swap_endianness)                  swaps whole elements              no big-endian complex64 ('>c8' is two floats)
//	offset = 8 + len_size + header.length()     data right after the header       numpy's padding: spaces, '\n', 16-byte aligned
//
// so an npy header is accepted only when it is laid out byte for byte as
// numpy writes it (key order, spacing, the trailing comma of a 1-d shape,
// padding); modelgate convert (Model.WriteSafetensors) rewrites anything
// else into a file MLX reads correctly. npz member names that collide
// once ".npy" is stripped are refused by the npz reader itself.
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
		return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX loads %s as raw uint8: %w", t.DType, ErrRawFP8)
	case format == formats.FormatGGUF:
		if !mlxGGUF[t.GGMLType] {
			return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX's GGUF loader (mlx/io/gguf.cpp) does not load ggml type %s; it loads F32, F16, I8, I16, I32, and Q4_0, Q4_1, Q8_0 as MLX quantization", t.GGMLType)
		}
		return nil
	case format != formats.FormatSafetensors:
		return checkMLXNpy(t)
	}
	return nil
}

// mlxGGUF are the ggml types mlx/io/gguf.cpp loads: plain arrays of these
// element types, and the three block formats it converts to MLX's own
// quantization.
var mlxGGUF = map[string]bool{"F32": true, "F16": true, "I8": true, "I16": true, "I32": true, "Q4_0": true, "Q4_1": true, "Q8_0": true}

// checkMLXNpy holds an npy header to the layout MLX's positional reader
// reads correctly: numpy's own.
func checkMLXNpy(t Tensor) *formats.Error {
	a := t.npy
	refuse := func(why string) *formats.Error {
		return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX's npy reader (mlx/io/load.cpp) %s; convert it to canonical safetensors (modelgate convert, Model.WriteSafetensors), which MLX reads correctly", why)
	}
	switch {
	case a.Version[0] != 1 && a.Version[0] != 2:
		return refuse(fmt.Sprintf("refuses npy format version %d.%d (\"Unsupported npy format version\")", a.Version[0], a.Version[1]))
	case len(a.Descr) != 3:
		return refuse(fmt.Sprintf("reads 3 bytes of descr and would misread %q", a.Descr))
	case a.Descr == ">c8":
		return refuse("swaps a big-endian complex64 as one 8-byte unit, not as two floats")
	}
	want := numpyHeader(a.Descr, a.FortranOrder, t.Shape)
	pad, ok := strings.CutPrefix(a.Header, want)
	if !ok {
		return refuse(fmt.Sprintf("reads the header by position and would misread %q; numpy writes %q", strings.TrimRight(a.Header, " \n"), want))
	}
	if strings.Trim(pad, " ") != "\n" || !strings.HasSuffix(pad, "\n") || (a.HeaderStart+int64(len(a.Header)))%16 != 0 {
		return refuse("expects numpy's padding: spaces and a newline ending the header on a 16-byte boundary")
	}
	return nil
}

// numpyHeader is the header dict numpy's format.write_array writes: keys
// sorted, "'key': repr(value), " each, then "}".
func numpyHeader(descr string, fortran bool, shape []int64) string {
	order := "False"
	if fortran {
		order = "True"
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.FormatInt(d, 10)
	}
	s := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		s = "(" + dims[0] + ",)"
	}
	return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + s + ", }"
}
