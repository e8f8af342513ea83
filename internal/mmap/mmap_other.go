//go:build !unix

package mmap

import "os"

// Supported reports whether files can be mapped here.
const Supported = false

// Map is unavailable here: it returns no mapping, and callers read
// through io.ReaderAt instead.
func Map(*os.File, int64) ([]byte, func() error, error) {
	return nil, func() error { return nil }, nil
}
