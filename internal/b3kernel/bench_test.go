package b3kernel_test

import (
	"testing"

	"lukechampine.com/blake3/guts"

	"github.com/modelgate/modelgate/internal/b3kernel"
)

// BenchmarkSubtree hashes a 512 KiB subtree, hot in cache, on one core,
// with each path, and with guts' CompressBuffer per 16 chunks.
func BenchmarkSubtree(b *testing.B) {
	buf := make([]byte, 512<<10)
	for _, p := range paths {
		b.Run(p.String(), func(b *testing.B) {
			restore, ok := b3kernel.UsePath(p)
			if !ok {
				b.Skipf("this CPU cannot run the %v path", p)
			}
			defer restore()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				b3kernel.SubtreeCV(buf, 0)
			}
		})
	}
	b.Run("guts", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			gutsSubtree(buf, 0, &guts.IV, 0)
		}
	})
}
