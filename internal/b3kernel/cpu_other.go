//go:build !amd64

package b3kernel

// best is the portable path: the assembly is amd64's.
const best = Generic

// supported reports whether this CPU can run p.
func supported(p Path) bool { return p == Generic }

// The assembly kernels' names, for the dispatch in kernel.go, which never
// calls them off amd64 (Active is Generic there).

func chunks16AVX512(*[16][8]uint32, *[16 * ChunkSize]byte, *[8]uint32, uint64, uint32) {
	panic("b3kernel: AVX-512 off amd64")
}

func parents16AVX512(*[16][8]uint32, *[32][8]uint32, *[8]uint32, uint32) {
	panic("b3kernel: AVX-512 off amd64")
}

func chunks8AVX2(*[8][8]uint32, *[8 * ChunkSize]byte, *[8]uint32, uint64, uint32) {
	panic("b3kernel: AVX2 off amd64")
}

func parents8AVX2(*[8][8]uint32, *[16][8]uint32, *[8]uint32, uint32) {
	panic("b3kernel: AVX2 off amd64")
}
