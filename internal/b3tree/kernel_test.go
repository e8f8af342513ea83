package b3tree

import (
	"testing"

	zeebo "github.com/zeebo/blake3"
)

// BenchmarkKernel hashes one segment, hot in cache, on one core:
// the kernel Sum runs per segment, against zeebo/blake3's.
func BenchmarkKernel(b *testing.B) {
	var buf [Segment]byte
	b.Run("lukechampine-guts", func(b *testing.B) {
		b.SetBytes(Segment)
		for b.Loop() {
			segmentCV(&buf, 0)
		}
	})
	b.Run("zeebo", func(b *testing.B) {
		b.SetBytes(Segment)
		for b.Loop() {
			zeebo.Sum256(buf[:])
		}
	})
}
