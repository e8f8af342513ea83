package loader

import (
	"bytes"
	"io"
	"maps"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
)

// WriteSafetensors writes every tensor of the model, as verified, to w as
// one canonical safetensors file (see safetensors.Write): the bytes an
// MLX worker then parses are ones every safetensors parser reads the same
// way. Little-endian, C-order data is copied straight from the verified
// bytes; big-endian npy data is byte-swapped and Fortran-order data
// reordered to C order, in memory, one tensor at a time. A single .npy
// file's array is named after the file. Metadata of safetensors inputs is
// kept where the files agree. GGUF tensors quantized Q4_0, Q4_1 or Q8_0
// are written, when the model was opened under ProfileMLX, as the three
// arrays mx.load makes of each (see mlxQuantized); any other quantized
// tensor is refused. Under ProfileMLX, the output passes CheckMLX: a
// tensor whose safetensors dtype MLX refuses (an npy '<f8', which MLX
// reads from the .npy exactly, would be F64) is refused, saying to keep
// the source file.
func (m *Model) WriteSafetensors(w io.Writer) error {
	ts := make([]safetensors.Tensor, 0, len(m.Tensors))
	for _, t := range m.Tensors {
		if t.GGMLType != "" && t.DType == formats.InvalidDType {
			if m.Verified.Profile != "mlx" || mlxQuantizedBits[t.GGMLType] == 0 {
				return formats.WithPath(formats.Errorf(formats.KindUnsupported, t.Offset, "tensor %q is ggml-quantized (%s); safetensors has no such dtype, and modelgate does not dequantize (under the MLX profile Q4_0, Q4_1 and Q8_0 convert to MLX's quantization)", t.Name, t.GGMLType), t.File)
			}
			b, err := m.tensorBytes(t)
			if err != nil {
				return err
			}
			ts = append(ts, mlxQuantized(t.Tensor, b)...)
			continue
		}
		sr, err := m.Section(t.Name)
		if err != nil {
			return err
		}
		var data io.Reader = sr
		if t.BigEndian || (t.FortranOrder && len(t.Shape) > 1) {
			b, err := m.tensorBytes(t)
			if err != nil {
				return err
			}
			data = bytes.NewReader(canonicalBytes(t.Tensor, b))
		}
		if m.Verified.Profile == "mlx" && mlxRefused[t.DType] {
			return formats.WithPath(formats.Errorf(formats.KindUnsupported, t.Offset, "tensor %q is %s (numpy %q), which MLX reads from %s as it is, but MLX refuses %s safetensors tensors: no faithful conversion exists; keep the %s file", t.Name, t.DType, t.Descr, t.File, t.DType, describeSource(t)), t.File)
		}
		ts = append(ts, safetensors.Tensor{Name: t.Name, DType: t.DType, Shape: t.Shape, Data: data})
	}
	return safetensors.Write(w, ts, m.metadata())
}

// describeSource names the kind of file a tensor came from.
func describeSource(t ModelTensor) string {
	if t.Member != "" {
		return ".npz"
	}
	if t.Descr != "" {
		return ".npy"
	}
	return "source"
}

// tensorBytes reads a tensor's verified bytes into memory.
func (m *Model) tensorBytes(t ModelTensor) ([]byte, error) {
	sr, err := m.Section(t.Name)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(sr)
	if err != nil {
		return nil, formats.IOError(t.Offset, err)
	}
	return b, nil
}

// metadata merges the safetensors metadata of the files, keeping keys on
// which they agree.
func (m *Model) metadata() map[string]string {
	var out map[string]string
	conflict := map[string]bool{}
	for _, f := range m.Files {
		if f.Metadata == nil {
			continue
		}
		if out == nil {
			out = maps.Clone(f.Metadata)
			continue
		}
		for k, v := range f.Metadata {
			if prev, ok := out[k]; ok && prev != v {
				conflict[k] = true
			}
			out[k] = v
		}
	}
	for k := range conflict {
		delete(out, k)
	}
	return out
}

// canonicalBytes returns t's data little-endian and in C order.
func canonicalBytes(t Tensor, b []byte) []byte {
	if t.BigEndian {
		unit := int(t.DType.Bits() / 8)
		if t.DType == formats.C64 {
			unit = 4 // two float32 halves
		}
		for i := 0; i+unit <= len(b); i += unit {
			for j, k := i, i+unit-1; j < k; j, k = j+1, k-1 {
				b[j], b[k] = b[k], b[j]
			}
		}
	}
	if t.FortranOrder && len(t.Shape) > 1 {
		b = fortranToC(b, t.Shape, int(t.DType.Bits()/8))
	}
	return b
}

// fortranToC reorders column-major data of the given shape and item size
// into row-major order.
func fortranToC(src []byte, shape []int64, item int) []byte {
	dst := make([]byte, len(src))
	n := len(src) / item
	if n == 0 {
		return dst
	}
	strides := make([]int, len(shape)) // column-major strides, in items
	s := 1
	for k, d := range shape {
		strides[k] = s
		s *= int(d)
	}
	idx := make([]int, len(shape))
	for c := 0; c < n; c++ {
		off := 0
		for k, i := range idx {
			off += i * strides[k]
		}
		copy(dst[c*item:(c+1)*item], src[off*item:(off+1)*item])
		for k := len(idx) - 1; k >= 0; k-- { // next C-order index
			idx[k]++
			if idx[k] < int(shape[k]) {
				break
			}
			idx[k] = 0
		}
	}
	return dst
}
