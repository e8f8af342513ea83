package npy

import (
	"bytes"
	"io"

	"github.com/modelgate/modelgate/formats"
)

// File is a parsed .npy file. Only its header has been read.
type File struct {
	Array
	r    io.ReaderAt
	data []byte // whole file, when held in memory
}

// NewReader parses the .npy file of the given size read from r. It reads
// the prefix and header only.
func NewReader(r io.ReaderAt, size int64, lim formats.Limits) (*File, error) {
	a, err := readArray(r, size, 0, lim.WithDefaults())
	if err != nil {
		return nil, err
	}
	return &File{Array: *a, r: r}, nil
}

// NewReaderBytes parses an .npy file held in memory; Bytes then returns the
// data without copying.
func NewReaderBytes(b []byte, lim formats.Limits) (*File, error) {
	f, err := NewReader(bytes.NewReader(b), int64(len(b)), lim)
	if err != nil {
		return nil, err
	}
	f.data = b
	return f, nil
}

// readArray parses an array occupying [base, base+size) of r.
func readArray(r io.ReaderAt, size, base int64, lim formats.Limits) (*Array, *formats.Error) {
	read := func(off int64, n int) ([]byte, *formats.Error) {
		buf := make([]byte, n)
		if n == 0 {
			return buf, nil // ReadAt may say EOF for nothing at the end
		}
		if _, err := r.ReadAt(buf, base+off); err != nil {
			return nil, formats.IOError(base+off, err)
		}
		return buf, nil
	}
	if size < 10 {
		return nil, formats.Errorf(formats.KindMalformed, base, "%d bytes are too few for an .npy file", size)
	}
	prefix, err := read(0, int(min(size, 12)))
	if err != nil {
		return nil, err
	}
	return parseArray(prefix, size, base, lim, read)
}

// Section returns a reader of the array's data as stored.
func (f *File) Section() *io.SectionReader { return io.NewSectionReader(f.r, f.Offset, f.Size) }

// Bytes returns the array's data as a sub-slice of the buffer given to
// NewReaderBytes, without copying, or false if the file is not in memory.
func (f *File) Bytes() ([]byte, bool) {
	if f.data == nil {
		return nil, false
	}
	return f.data[f.Offset : f.Offset+f.Size : f.Offset+f.Size], true
}
