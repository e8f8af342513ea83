//go:build unix

// Package mmap maps files read-only, for hashing and parsing without
// copying.
package mmap

import (
	"os"

	"golang.org/x/sys/unix"
)

// Supported reports whether files can be mapped here.
const Supported = true

// Map maps size bytes of f read-only, advising sequential access. A
// zero-size file has no mapping (nil, and a no-op unmap).
func Map(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 || int64(int(size)) != size {
		return nil, func() error { return nil }, nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	_ = unix.Madvise(b, unix.MADV_SEQUENTIAL)
	return b, func() error { return unix.Munmap(b) }, nil
}
