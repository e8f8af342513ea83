package formats

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// Format names what a file is, as decided by its content alone.
type Format string

// The formats Detect can name.
const (
	FormatSafetensors Format = "safetensors"
	FormatNpy         Format = "npy"
	FormatZip         Format = "zip" // a zip archive; the npz reader decides whether it is npz
	FormatNpz         Format = "npz" // a zip archive of .npy members
	FormatPickle      Format = "pickle"
	FormatUnknown     Format = "unknown"
)

// sniffLen is how much of a file Detect reads.
const sniffLen = 64

// Detect classifies the content of r (size bytes) by magic bytes and
// structure, never by name. It reads at most the first 64 bytes. A file it
// cannot name is FormatUnknown with a nil error; the error is for I/O only.
func Detect(r io.ReaderAt, size int64) (Format, error) {
	n := min(size, sniffLen)
	if n < 0 {
		n = 0
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF) && int64(len(buf)) == n) {
		return FormatUnknown, IOError(0, err)
	}
	return sniff(buf, size), nil
}

func sniff(b []byte, size int64) Format {
	switch {
	case bytes.HasPrefix(b, []byte("\x93NUMPY")):
		return FormatNpy
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return FormatZip
	case len(b) >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5:
		return FormatPickle
	case looksSafetensors(b, size):
		return FormatSafetensors
	}
	return FormatUnknown
}

// looksSafetensors reports whether b starts like a safetensors file: a
// plausible little-endian header length followed by '{'. The header length
// may still run past the end; the reader then says so precisely.
func looksSafetensors(b []byte, size int64) bool {
	if len(b) < 9 || b[8] != '{' {
		return false
	}
	n := binary.LittleEndian.Uint64(b)
	return n >= 2 && n < 1<<40 && size >= 10
}
