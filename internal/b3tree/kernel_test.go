package b3tree

import (
	"testing"

	zeebo "github.com/zeebo/blake3"
	"lukechampine.com/blake3/guts"

	"github.com/modelgate/modelgate/internal/b3kernel"
)

// gutsSegmentCV is segmentCV as it was before internal/b3kernel:
// lukechampine.com/blake3/guts' CompressBuffer per 16 chunks (its kernels
// gather each block's message words), merged with its ParentNode.
func gutsSegmentCV(buf *[Segment]byte, counter uint64) [8]uint32 {
	var cvs [Segment / simd][8]uint32
	for i := range cvs {
		n := guts.CompressBuffer((*[simd]byte)(buf[i*simd:]), simd, &guts.IV, counter+uint64(i*guts.MaxSIMD), 0)
		cvs[i] = guts.ChainingValue(n)
	}
	level := cvs[:]
	for len(level) > 1 {
		for i := range len(level) / 2 {
			level[i] = guts.ChainingValue(guts.ParentNode(level[2*i], level[2*i+1], &guts.IV, 0))
		}
		level = level[:len(level)/2]
	}
	return level[0]
}

// TestSegmentCVAgreesWithGuts compares the kernel Sum runs per segment
// with guts' at counters around the 32-bit carry.
func TestSegmentCVAgreesWithGuts(t *testing.T) {
	buf := new([Segment]byte)
	fill(buf[:], 11)
	for _, c := range []uint64{0, 512, 1<<32 - 512, 1 << 32, 3<<40 + 1024} {
		if segmentCV(buf, c) != gutsSegmentCV(buf, c) {
			t.Errorf("segment at chunk %#x: %x, guts %x", c, segmentCV(buf, c), gutsSegmentCV(buf, c))
		}
	}
}

// BenchmarkKernel hashes one segment, hot in cache, on one core: the
// kernel Sum runs per segment (internal/b3kernel, on the path CPUID
// chose), the guts kernel it replaced, and zeebo/blake3's.
func BenchmarkKernel(b *testing.B) {
	var buf [Segment]byte
	b.Run("b3kernel-"+b3kernel.Active().String(), func(b *testing.B) {
		b.SetBytes(Segment)
		for b.Loop() {
			segmentCV(&buf, 0)
		}
	})
	b.Run("lukechampine-guts", func(b *testing.B) {
		b.SetBytes(Segment)
		for b.Loop() {
			gutsSegmentCV(&buf, 0)
		}
	})
	b.Run("zeebo", func(b *testing.B) {
		b.SetBytes(Segment)
		for b.Loop() {
			zeebo.Sum256(buf[:])
		}
	})
}
