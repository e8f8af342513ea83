package loader

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
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
// GGUF: only the ggml types mlx/io/gguf.cpp loads as they are stored (F32,
// F16, I8, I16, I32) or into its own quantization (Q4_0, Q4_1, Q8_0); it
// turns every other type into float16 through gguflib, which is not the
// tensor the file holds. (MLX at 066336b also quantizes Q4_K; it stays
// refused until a test runs MLX itself on one.) gguf_load_quantized
// (mlx/io/gguf_quants.cpp) stores a quantized tensor N as N, plus
// N[:len(N)-7]+".scales" and ".biases" — 7 bytes cut whether or not N ends
// in ".weight" — and throws on a name already taken; it sizes the packed
// weights and the scales with an int accumulator. So a quantized tensor's
// name must end in ".weight", the names it adds must not be taken, and its
// element count times bits/32 must fit in an int32. The reader already
// holds every tensor to 1-4 positive dimensions, aligned offsets inside
// the file and unique names. gguflib, which MLX reads GGUF with, never
// reads general.alignment (it looks for "general.alignmnet", and aligns
// the data section to 32 bytes without it), so the data section must start
// where 32-byte alignment puts it, and no key may be "general.alignmnet";
// MLX's metadata reader advances 4 bytes for each 8-byte float64 value, so
// no metadata may be float64 (arrays of arrays, which it throws on, the
// reader refuses).
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
	if f.Format == formats.FormatGGUF {
		if err := checkMLXGGUFHeader(f.gguf); err != nil {
			return err
		}
		return checkMLXQuantized(f)
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

// mlxQuantizedBits are the ggml types gguf_load_quantized turns into
// MLX's quantization, with the bits of each packed weight.
var mlxQuantizedBits = map[string]int64{"Q4_0": 4, "Q4_1": 4, "Q8_0": 8}

// gguflibAlignmentKey is the key gguflib (antirez/gguf-tools, which MLX
// builds at 8fa6eb6) reads the alignment from: general.alignment misspelt.
// It never reads general.alignment itself.
const gguflibAlignmentKey = "general.alignmnet"

// checkMLXGGUFHeader refuses a GGUF header MLX reads differently from the
// spec (see CheckMLX): gguflib aligns the data section to 32 bytes
// whatever general.alignment says, and takes a uint32 "general.alignmnet"
// instead (0 divides by zero); MLX's load_metadata (mlx/io/gguf.cpp)
// stores a float64 value as float32 and advances by the float32 size, so
// every key and tensor after one is read from the wrong offset. (It throws
// on an array of arrays, which the reader refuses already.)
func checkMLXGGUFHeader(g *gguf.File) error {
	const a = gguf.DefaultAlignment
	if at := (g.HeaderEnd + a - 1) / a * a; at != g.DataStart {
		return formats.Errorf(formats.KindUnsupported, g.HeaderEnd, "MLX's GGUF reader (gguflib) ignores general.alignment and aligns the data section to 32 bytes: it would read the tensors from offset %d, not %d", at, g.DataStart).WithField("general.alignment")
	}
	for _, kv := range g.Metadata {
		switch {
		case kv.Key == gguflibAlignmentKey:
			return formats.Errorf(formats.KindUnsupported, formats.NoOffset, "MLX's GGUF reader (gguflib) takes its alignment from %q, which this file sets", kv.Key).WithField(kv.Key)
		case kv.Type == gguf.Float64 || kv.Type == gguf.Array && kv.Elem == gguf.Float64:
			return formats.Errorf(formats.KindUnsupported, formats.NoOffset, "MLX reads float64 metadata as float32 and skips 4 bytes where 8 are stored, misreading every key and tensor after %q", kv.Key).WithField(kv.Key)
		}
	}
	return nil
}

// checkMLXQuantized holds a GGUF file's quantized tensors to the names and
// sizes gguf_load_quantized handles (see CheckMLX).
func checkMLXQuantized(f *File) error {
	taken := make(map[string]bool, len(f.Tensors))
	for _, t := range f.Tensors {
		taken[t.Name] = true
	}
	for _, t := range f.Tensors {
		bits, ok := mlxQuantizedBits[t.GGMLType]
		if !ok {
			continue
		}
		prefix, ok := strings.CutSuffix(t.Name, ".weight")
		if !ok {
			return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX names the scales and biases of quantized tensor %q by cutting 7 bytes from its name, which must end in \".weight\"", t.Name).WithField(t.Name)
		}
		for _, added := range []string{prefix + ".scales", prefix + ".biases"} {
			if taken[added] {
				return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX adds %q for quantized tensor %q, a name the file already uses; it refuses the file (duplicate parameter name)", added, t.Name).WithField(t.Name)
			}
			taken[added] = true
		}
		n := t.NumElements() // the reader bounds it by the tensor's size
		if n/32*bits > math.MaxInt32 {
			return formats.Errorf(formats.KindUnsupported, t.Offset, "quantized tensor %q has %d elements; MLX sizes its packed weights in an int32 and would overflow", t.Name, n).WithField(t.Name)
		}
	}
	return nil
}

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
