// Package readahead serves the many small, mostly sequential reads of a
// header parser (a zip's local headers, an npz's member headers) from one
// cached block, so that an archive of 65,536 members costs a few hundred
// system calls rather than hundreds of thousands.
package readahead

import (
	"io"
	"sync"
)

// BlockSize is how much one miss reads.
const BlockSize = 64 << 10

// Reader is an io.ReaderAt that caches one block of an underlying one.
// Reads of BlockSize or more go straight through. It is safe for
// concurrent use.
type Reader struct {
	r    io.ReaderAt
	size int64
	mu   sync.Mutex
	buf  []byte
	off  int64 // file offset of buf[0]
	n    int   // valid bytes in buf
}

// New caches reads of the first size bytes of r.
func New(r io.ReaderAt, size int64) *Reader {
	if c, ok := r.(*Reader); ok {
		return c
	}
	return &Reader{r: r, size: size}
}

// ReadAt reads len(p) bytes at off, from the cached block when it holds
// them.
func (c *Reader) ReadAt(p []byte, off int64) (int, error) {
	if len(p) >= BlockSize || off < 0 {
		return c.r.ReadAt(p, off)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if off < c.off || off+int64(len(p)) > c.off+int64(c.n) {
		if c.buf == nil {
			c.buf = make([]byte, BlockSize)
		}
		want := min(int64(BlockSize), max(c.size-off, 0))
		n, err := c.r.ReadAt(c.buf[:want], off)
		c.off, c.n = off, n
		if n < len(p) {
			copy(p, c.buf[:n])
			if err == nil {
				err = io.EOF
			}
			return n, err
		}
	}
	return copy(p, c.buf[off-c.off:]), nil
}
