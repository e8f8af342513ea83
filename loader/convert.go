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
// bytes, and big-endian npy data byte-swapped as it is copied; Fortran-
// order data is reordered to C order, and GGUF blocks converted, in
// memory, one tensor at a time (each made when the writer reaches it and
// let go once written). A single .npy
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
			ts = append(ts, m.mlxQuantizedLazily(t)...)
			continue
		}
		sr, err := m.Section(t.Name)
		if err != nil {
			return err
		}
		var data io.Reader = sr
		switch {
		case t.FortranOrder && len(t.Shape) > 1:
			data = &lazy{make: func() (io.Reader, error) {
				b, err := m.tensorBytes(t)
				if err != nil {
					return nil, err
				}
				return bytes.NewReader(canonicalBytes(t.Tensor, b)), nil
			}}
		case t.BigEndian:
			data = &swapped{r: sr, unit: swapUnit(t.Tensor)}
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
		swap(b, swapUnit(t))
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

// swapUnit is the size of the values a big-endian tensor's bytes are
// swapped in.
func swapUnit(t Tensor) int {
	if t.DType == formats.C64 {
		return 4 // two float32 halves
	}
	return int(t.DType.Bits() / 8)
}

// swap reverses the bytes of each unit-sized value in b.
func swap(b []byte, unit int) {
	for i := 0; i+unit <= len(b); i += unit {
		for j, k := i, i+unit-1; j < k; j, k = j+1, k-1 {
			b[j], b[k] = b[k], b[j]
		}
	}
}

// swapped byte-swaps a big-endian tensor as it is read, a buffer at a
// time: whole values only, so memory does not follow the tensor's size.
type swapped struct {
	r    io.Reader
	unit int
	buf  []byte
	out  []byte // swapped bytes not yet returned
	err  error
}

func (s *swapped) Read(p []byte) (int, error) {
	if len(s.out) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		if s.buf == nil {
			s.buf = make([]byte, 64<<10/s.unit*s.unit)
		}
		n, err := io.ReadFull(s.r, s.buf)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		whole := n / s.unit * s.unit
		swap(s.buf[:whole], s.unit)
		s.out, s.err = s.buf[:whole], err
		if whole < n && err == io.EOF {
			s.err = io.ErrUnexpectedEOF // a partial value: the writer refuses the short tensor
		}
		if whole == 0 {
			return 0, s.err
		}
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// lazy makes a rewritten tensor's data when the writer first reads it,
// and lets it go at the end: WriteSafetensors holds one rewritten tensor
// at a time, not every one.
type lazy struct {
	make func() (io.Reader, error)
	r    io.Reader
	done bool
}

func (l *lazy) Read(p []byte) (int, error) {
	if l.done {
		return 0, io.EOF
	}
	if l.r == nil {
		r, err := l.make()
		if err != nil {
			return 0, err
		}
		l.r = r
	}
	n, err := l.r.Read(p)
	if err == io.EOF {
		l.r, l.done = nil, true
	}
	return n, err
}

// mlxQuantizedLazily is mlxQuantized's three tensors, converted when the
// writer first reads one of them, each let go once written.
func (m *Model) mlxQuantizedLazily(t ModelTensor) []safetensors.Tensor {
	out := mlxQuantized(t.Tensor, nil) // names, dtypes and shapes
	var parts []safetensors.Tensor
	for i := range out {
		out[i].Data = &lazy{make: func() (io.Reader, error) {
			if parts == nil {
				b, err := m.tensorBytes(t)
				if err != nil {
					return nil, err
				}
				parts = mlxQuantized(t.Tensor, b)
			}
			r := parts[i].Data
			parts[i].Data = nil
			return r, nil
		}}
	}
	return out
}
