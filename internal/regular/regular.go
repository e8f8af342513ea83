// Package regular opens files so that only regular files are ever read: a
// FIFO would block the reader, and a device (/dev/zero) would read
// forever or lie about its size.
package regular

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/modelgate/modelgate/formats"
)

// ErrNotRegular is the cause when a path names a FIFO, socket, device or
// other special file.
var ErrNotRegular = fmt.Errorf("not a regular file")

// Open opens path for reading without blocking and refuses it unless it
// is a regular file.
func Open(path string) (*os.File, os.FileInfo, error) {
	return check(os.OpenFile(path, os.O_RDONLY|openNonblock, 0))
}

// OpenIn is Open through an os.Root.
func OpenIn(root *os.Root, name string) (*os.File, os.FileInfo, error) {
	return check(root.OpenFile(name, os.O_RDONLY|openNonblock, 0))
}

func check(f *os.File, err error) (*os.File, os.FileInfo, error) {
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, NotRegular(st.Mode())
	}
	return f, st, nil
}

// NotRegular describes a special file of the given mode.
func NotRegular(mode fs.FileMode) error {
	what := "a special file"
	switch {
	case mode&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	case mode&fs.ModeCharDevice != 0:
		what = "a character device"
	case mode&fs.ModeDevice != 0:
		what = "a block device"
	case mode&fs.ModeSymlink != 0:
		what = "a symbolic link"
	}
	return fmt.Errorf("%w: %s, which a reader could block on or read forever", ErrNotRegular, what)
}

// ReadCapped reads a small regular file (a bundle, a policy, a checksum
// file) whole, up to max+1 bytes so that the caller can refuse one over
// max. A special file is refused with kind unsupported, and failures are
// kind io.
func ReadCapped(path string, max int64) ([]byte, error) {
	f, _, err := Open(path)
	if errors.Is(err, ErrNotRegular) {
		return nil, formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%w", err), path)
	} else if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	return b, nil
}
