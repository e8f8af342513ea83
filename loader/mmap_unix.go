//go:build unix

package loader

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only. A zero-size file has no mapping.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
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

const canMap = true
