//go:build !amd64

package b3kernel

// best is the portable path: the assembly is amd64's.
const best = Generic

// supported reports whether this CPU can run p.
func supported(p Path) bool { return p == Generic }

// The assembly kernels' names, for the dispatch in kernel.go, which never
// calls them off amd64 (Active is Generic there).
var (
	chunks16AVX512  = chunkCVsGeneric
	parents16AVX512 = parentCVsGeneric
)

func chunks8AVX2(*[8][8]uint32, *[8 * ChunkSize]byte, *[8]uint32, uint64, uint32) {
	panic("b3kernel: AVX2 off amd64")
}

func parents8AVX2(*[8][8]uint32, *[16][8]uint32, *[8]uint32, uint32) {
	panic("b3kernel: AVX2 off amd64")
}
