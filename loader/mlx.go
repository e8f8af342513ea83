package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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

// The sources the MLX profile is derived from, each rule naming the one it
// follows: MLX at mlxCommit (mlx/io/gguf.cpp, gguf_quants.cpp, load.cpp),
// and gguflib at gguflibCommit, the GIT_TAG mlx/io/CMakeLists.txt pins at
// mlxCommit.
const (
	mlxCommit     = "ml-explore/mlx 846d176"
	gguflibCommit = "antirez/gguf-tools 8fa6eb6"
)

// CheckMLX refuses, with kind unsupported, what Apple's MLX would misread,
// refuse or cannot represent, and accepts what it loads as numpy does.
//
// safetensors: the dtypes MLX refuses (F64, F8_E5M2, the FNUZ types, F4,
// F6); F8_E4M3 and F8_E8M0 unless allowRawFP8 (MLX loads them as raw
// uint8); dimensions above the int32 range (MLX truncates them).
//
// GGUF, from MLX 846d176 and the gguflib it pins, 8fa6eb6:
//
//   - types (mlx/io/gguf.cpp, extract_tensor_data, load_arrays): F32, F16,
//     I8, I16 and I32 are loaded as stored, and Q4_0, Q4_1 and Q8_0 into
//     MLX's own quantization; BF16, Q2_K, Q4_K and Q6_K MLX loads as
//     float16 through gguflib's gguf_tensor_to_f16, which changes their
//     values (rounding, overflow to inf, and gguflib's Q4_K decoding), so
//     they are refused; every other type below gguflib's GGUF_TYPE_COUNT
//     (31) makes gguf_tensor_to_f16 fail, and a type at or past it ends
//     gguflib's gguf_get_tensor, so MLX silently loads none of the tensors
//     listed from there on;
//   - names (mlx/io/gguf_quants.cpp, gguf_load_quantized): a quantized
//     tensor N is stored as N plus PREFIX+".scales" and ".biases", where
//     PREFIX is N.substr(0, len(N)-7): N without ".weight" when it ends so,
//     N itself when it is shorter than 7 bytes (the size_t subtraction
//     wraps and substr keeps the whole name), and N with 7 bytes cut
//     otherwise, which is refused; MLX throws on an added name already
//     taken, and sizes the packed weights with an int accumulator, so the
//     element count times bits/32 must fit in an int32;
//   - scales (gguf_quants.cpp, extract_q4_0_data, extract_q8_0_data): the
//     bias is computed in float16 (-8*d for Q4_0, -128*d for Q8_0) and
//     overflows to infinity from |d| = 8192 (Q4_0) or 512 (Q8_0), where
//     ggml's values are finite: every block's 2-byte scale is read (the
//     tensor is streamed through a fixed buffer) and such a block refused;
//   - alignment (gguflib.c, gguf_get_key at 8fa6eb6): gguflib reads a
//     uint32 general.alignment, which the reader already holds to a power
//     of two, and ignores any other key, the misspelt "general.alignmnet"
//     included (gguf-tools read that one only before e5cdcec): its data
//     section is the reader's, so there is no rule;
//   - metadata (mlx/io/gguf.cpp, set_mx_value_from_gguf): a float64 value
//     is stored as float32 and MLX advances by the float32 size, so every
//     key and tensor after one is read from the wrong offset: no metadata
//     may be float64 (arrays of arrays, which it throws on, the reader
//     refuses).
//
// The reader already holds every tensor to 1-4 positive dimensions, aligned
// offsets inside the file and unique names.
//
// npy, and npz members (mx.load reads each member with the same reader):
// MLX's reader (mlx/io/load.cpp at 846d176, load()) does not parse the
// header; it reads it by position. Each behaviour, and what CheckMLX
// requires:
//
//	load.cpp at 846d176                         behaviour                         required here
//	read_magic_and_ver[6] != 1 && != 2          versions 1 and 2 only             version 1.0 or 2.0
//	std::string header(buffer.data(), len)      the whole header, NULs included   (npy refuses NUL)
//	header.substr(11, 3)                        descr is bytes 11-13              "{'descr': '" first, a 3-byte descr
//	dtype_from_array_protocol                   f2/f4/f8, i1-i8, u1-u8, b1, c8    (a 3-byte descr)
//	                                            (complex64 only), V2 as bfloat16
//	header.at(34) == 'T'                        fortran_order read at byte 34     'fortran_order' second, as numpy spaces it
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
		return checkMLXGGUFType(t)
	case format != formats.FormatSafetensors:
		return checkMLXNpy(t)
	}
	return nil
}

// mlxGGUF are the ggml types MLX loads faithfully (mlx/io/gguf.cpp at
// 846d176, gguf_type_to_dtype and load_arrays): plain arrays of these
// element types, and the three block formats gguf_load_quantized converts
// to MLX's own quantization.
var mlxGGUF = map[string]bool{"F32": true, "F16": true, "I8": true, "I16": true, "I32": true, "Q4_0": true, "Q4_1": true, "Q8_0": true}

// gguflibToF16 are the other types gguflib's gguf_tensor_to_f16
// (gguflib.c at 8fa6eb6) converts, and so MLX loads, as float16.
var gguflibToF16 = map[string]bool{"BF16": true, "Q2_K": true, "Q4_K": true, "Q6_K": true}

// gguflibTypeCount is GGUF_TYPE_COUNT in gguflib.h at 8fa6eb6: its
// gguf_get_tensor returns "no more tensors" at a type this large.
const gguflibTypeCount = 31

// checkMLXGGUFType says what MLX does with a tensor type it does not load
// faithfully (see CheckMLX).
func checkMLXGGUFType(t Tensor) *formats.Error {
	switch {
	case mlxGGUF[t.GGMLType]:
		return nil
	case gguflibToF16[t.GGMLType]:
		return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX (%s, mlx/io/gguf.cpp) loads ggml type %s as float16 through gguflib's gguf_tensor_to_f16 (%s), which changes its values: they are not the tensor the file holds", mlxCommit, t.GGMLType, gguflibCommit)
	case t.ggml >= gguflibTypeCount:
		return formats.Errorf(formats.KindUnsupported, t.Offset, "gguflib (%s), which MLX reads GGUF with, stops at ggml type %s (%d, past its GGUF_TYPE_COUNT %d): MLX would silently load none of the tensors from this one on", gguflibCommit, t.GGMLType, t.ggml, gguflibTypeCount)
	}
	return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX (%s, mlx/io/gguf.cpp) refuses ggml type %s: gguflib's gguf_tensor_to_f16 (%s) does not convert it", mlxCommit, t.GGMLType, gguflibCommit)
}

// mlxQuantizedBits are the ggml types gguf_load_quantized turns into
// MLX's quantization, with the bits of each packed weight.
var mlxQuantizedBits = map[string]int64{"Q4_0": 4, "Q4_1": 4, "Q8_0": 8}

// checkMLXGGUFHeader refuses a GGUF header MLX reads differently from the
// spec: MLX's set_mx_value_from_gguf (mlx/io/gguf.cpp at 846d176) stores a
// float64 value as float32 and advances by the float32 size, so every key
// and tensor after one is read from the wrong offset. (It throws on an
// array of arrays, which the reader refuses already. gguflib at 8fa6eb6
// reads general.alignment as the reader does, so alignment needs no rule.)
func checkMLXGGUFHeader(g *gguf.File) error {
	for _, kv := range g.Metadata {
		if kv.Type == gguf.Float64 || kv.Type == gguf.Array && kv.Elem == gguf.Float64 {
			return formats.Errorf(formats.KindUnsupported, formats.NoOffset, "MLX (%s) reads float64 metadata as float32 and skips 4 bytes where 8 are stored, misreading every key and tensor after %q", mlxCommit, kv.Key).WithField(kv.Key)
		}
	}
	return nil
}

// mlxQuantPrefix is the prefix gguf_load_quantized (gguf_quants.cpp at
// 846d176) names a quantized tensor's scales and biases with:
// name.substr(0, name.length() - 7), which keeps the whole name when it is
// shorter than 7 bytes (the size_t subtraction wraps). ok is false when
// the cut is not ".weight".
func mlxQuantPrefix(name string) (prefix string, ok bool) {
	const suffix = ".weight"
	if len(name) < len(suffix) {
		return name, true
	}
	return strings.CutSuffix(name, suffix)
}

// checkMLXQuantized holds a GGUF file's quantized tensors to the names,
// sizes and scales gguf_load_quantized handles (see CheckMLX).
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
		prefix, ok := mlxQuantPrefix(t.Name)
		if !ok {
			return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX (%s, gguf_quants.cpp) names the scales and biases of quantized tensor %q by cutting 7 bytes from its name, here not \".weight\" (it would add %q)", mlxCommit, t.Name, t.Name[:len(t.Name)-7]+".scales").WithField(t.Name)
		}
		for _, added := range []string{prefix + ".scales", prefix + ".biases"} {
			if taken[added] {
				return formats.Errorf(formats.KindUnsupported, t.Offset, "MLX (%s) adds %q for quantized tensor %q, a name the file already uses; it refuses the file (duplicate parameter name)", mlxCommit, added, t.Name).WithField(t.Name)
			}
			taken[added] = true
		}
		n := t.NumElements() // the reader bounds it by the tensor's size
		if n/32*bits > math.MaxInt32 {
			return formats.Errorf(formats.KindUnsupported, t.Offset, "quantized tensor %q has %d elements; MLX (%s) sizes its packed weights in an int32 and would overflow", t.Name, n, mlxCommit).WithField(t.Name)
		}
		if err := checkMLXScales(f, t); err != nil {
			return err.WithField(t.Name)
		}
	}
	return nil
}

// mlxBiasFactor is what extract_q4_0_data and extract_q8_0_data
// (gguf_quants.cpp at 846d176) multiply a block's float16 scale by, in
// float16, for its bias; Q4_1 stores its bias.
var mlxBiasFactor = map[string]float32{"Q4_0": -8, "Q8_0": -128}

// checkMLXScales reads every block's 2-byte scale d of a Q4_0 or Q8_0
// tensor, streaming the tensor through a fixed buffer, and refuses a block
// whose float16 bias overflows (|d| >= 8192 for Q4_0, 512 for Q8_0) while
// d is finite: MLX dequantizes it to inf or NaN where ggml's values are
// finite. (A non-finite d is non-finite in ggml too.)
func checkMLXScales(f *File, t Tensor) *formats.Error {
	k, ok := mlxBiasFactor[t.GGMLType]
	if !ok {
		return nil
	}
	blockBytes := int64(18)
	if t.GGMLType == "Q8_0" {
		blockBytes = 34
	}
	r, ok := f.Section(t.Name)
	if !ok {
		return formats.Errorf(formats.KindIO, t.Offset, "tensor %q cannot be read", t.Name)
	}
	buf := make([]byte, blockBytes*2048)
	for off := int64(0); off < t.Size; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), t.Size-off)]
		if _, err := r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && off+int64(len(b)) == t.Size) {
			return formats.IOError(t.Offset+off, err)
		}
		for i := int64(0); i+blockBytes <= int64(len(b)); i += blockBytes {
			d := binary.LittleEndian.Uint16(b[i:])
			if bias := f16Times(d, k); d&0x7C00 != 0x7C00 && bias&0x7C00 == 0x7C00 {
				return formats.Errorf(formats.KindUnsupported, t.Offset+off+i, "block %d of quantized tensor %q has scale %g: MLX (%s, gguf_quants.cpp) computes its bias %g*d in float16, which is not finite, where ggml's values are", (off+i)/blockBytes, t.Name, f16ToF32(d), mlxCommit, k)
			}
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
