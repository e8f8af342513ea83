package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"io"
	"slices"

	"github.com/modelgate/modelgate/formats"
)

// File is a parsed safetensors file. Only its header has been read; tensor
// data is read on demand through Section, or sliced without copying through
// Bytes when the file was opened with NewReaderBytes.
type File struct {
	r         io.ReaderAt
	data      []byte // whole file, when the caller holds it in memory
	size      int64
	headerLen int64
	tensors   []formats.TensorInfo // in offset order
	byName    map[string]int
	metadata  map[string]string
}

// NewReader parses the safetensors file of the given size read from r. It
// reads the 8-byte length and the header only, never the tensor data, and
// refuses the file unless every tensor lies exactly within it (see the
// package documentation for every rule).
func NewReader(r io.ReaderAt, size int64, lim formats.Limits) (*File, error) {
	f, err := newReader(r, size, lim.WithDefaults())
	if err != nil {
		return nil, err
	}
	return f, nil
}

// NewReaderBytes parses a safetensors file held in memory (for example a
// read-only mapping). Bytes then returns tensor data as sub-slices of b
// without copying; the caller must keep b alive and unmodified.
func NewReaderBytes(b []byte, lim formats.Limits) (*File, error) {
	f, err := newReader(bytes.NewReader(b), int64(len(b)), lim.WithDefaults())
	if err != nil {
		return nil, err
	}
	f.data = b
	return f, nil
}

// NewReaderMapped parses the file read from r, which mem maps: the header
// is read through r (one copy from the page cache, rather than a fault per
// page of a mapping), and Bytes returns tensor data as sub-slices of mem.
func NewReaderMapped(r io.ReaderAt, mem []byte, lim formats.Limits) (*File, error) {
	f, err := newReader(r, int64(len(mem)), lim.WithDefaults())
	if err != nil {
		return nil, err
	}
	f.data = mem
	return f, nil
}

func newReader(r io.ReaderAt, size int64, lim formats.Limits) (*File, *formats.Error) {
	if size < 8 {
		return nil, formats.Errorf(formats.KindMalformed, 0, "file is %d bytes; a safetensors file has at least 8", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, formats.IOError(0, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case n == 0:
		return nil, formats.Errorf(formats.KindMalformed, 0, "header length is 0")
	case n > uint64(size-8):
		return nil, formats.Errorf(formats.KindMalformed, 0, "header length %d runs past the end of the %d-byte file", n, size)
	case int64(n) > lim.MaxHeaderBytes:
		return nil, formats.Errorf(formats.KindLimitExceeded, 0, "header is %d bytes; limit is MaxHeaderBytes=%d", n, lim.MaxHeaderBytes)
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 8); err != nil {
		return nil, formats.IOError(8, err)
	}
	h, err := parseHeader(buf, 8, lim)
	if err != nil {
		return nil, err
	}
	f := &File{r: r, size: size, headerLen: int64(n), metadata: h.metadata}
	if err := f.layout(h.entries, lim); err != nil {
		return nil, err
	}
	return f, nil
}

// layout checks that the tensors tile the data section exactly: sorted by
// offset they start at 0, touch without gap or overlap, each is exactly as
// long as its shape and dtype say, and the last ends at the end of the file.
func (f *File) layout(entries []entry, lim formats.Limits) *formats.Error {
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	dataStart := 8 + f.headerLen
	dataLen := f.size - dataStart
	f.tensors = make([]formats.TensorInfo, len(entries))
	f.byName = make(map[string]int, len(entries))
	var pos int64
	for i, e := range entries {
		if err := checkEntry(e, pos, lim); err != nil {
			return err.WithField(tensorField(e.name, ".data_offsets"))
		}
		if e.end > dataLen {
			return formats.Errorf(formats.KindMalformed, e.at, "data ends at %d, past the %d-byte data section", e.end, dataLen).
				WithField(tensorField(e.name, ".data_offsets"))
		}
		if e.end > lim.MaxTotalBytes {
			return formats.Exceeded(e.at, "total tensor bytes", e.end, "MaxTotalBytes", lim.MaxTotalBytes)
		}
		pos = e.end
		f.tensors[i] = formats.TensorInfo{Name: e.name, DType: e.dtype, Shape: e.shape, Offset: dataStart + e.begin, Size: e.end - e.begin}
		f.byName[e.name] = i
	}
	if pos != dataLen {
		return formats.Errorf(formats.KindMalformed, dataStart+pos,
			"%d trailing bytes after the last tensor; tensors must end exactly at the end of the file", dataLen-pos)
	}
	return nil
}

// checkEntry checks one entry, given that the previous one ended at pos.
func checkEntry(e entry, pos int64, lim formats.Limits) *formats.Error {
	switch {
	case e.end < e.begin:
		return formats.Errorf(formats.KindMalformed, e.at, "data_offsets [%d, %d] end before they begin", e.begin, e.end)
	case e.begin < pos:
		return formats.Errorf(formats.KindMalformed, e.at, "data [%d, %d) overlaps the previous tensor, which ends at %d", e.begin, e.end, pos)
	case e.begin > pos && pos == 0:
		return formats.Errorf(formats.KindMalformed, e.at, "data starts at %d; the first tensor must start at 0", e.begin)
	case e.begin > pos:
		return formats.Errorf(formats.KindMalformed, e.at, "hole of %d bytes before data [%d, %d)", e.begin-pos, e.begin, e.end)
	}
	want, err := formats.DataSize(e.dtype, e.shape, lim, e.at)
	if err != nil {
		return err
	}
	if got := e.end - e.begin; got != want {
		return formats.Errorf(formats.KindMalformed, e.at, "data is %d bytes; shape %v of %s needs %d", got, e.shape, e.dtype, want)
	}
	return nil
}

// Size returns the size of the file in bytes.
func (f *File) Size() int64 { return f.size }

// HeaderLen returns the length of the JSON header in bytes (the file's
// first 8 bytes); tensor data starts at offset 8+HeaderLen.
func (f *File) HeaderLen() int64 { return f.headerLen }

// Tensors returns every tensor, in the order of its data in the file. The
// caller must not modify the returned slice.
func (f *File) Tensors() []formats.TensorInfo { return f.tensors }

// Tensor returns the tensor named name.
func (f *File) Tensor(name string) (formats.TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return formats.TensorInfo{}, false
	}
	return f.tensors[i], true
}

// Metadata returns the __metadata__ map, or nil if the header has none.
func (f *File) Metadata() map[string]string { return f.metadata }

// Section returns a reader of the named tensor's bytes as stored.
func (f *File) Section(name string) (*io.SectionReader, bool) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, false
	}
	return io.NewSectionReader(f.r, t.Offset, t.Size), true
}

// Bytes returns the named tensor's bytes as a sub-slice of the buffer given
// to NewReaderBytes, without copying. It reports false if there is no such
// tensor or the file was not opened from memory.
func (f *File) Bytes(name string) ([]byte, bool) {
	t, ok := f.Tensor(name)
	if !ok || f.data == nil {
		return nil, false
	}
	return f.data[t.Offset : t.Offset+t.Size : t.Offset+t.Size], true
}
