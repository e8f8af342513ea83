package b3kernel

import "golang.org/x/sys/cpu"

// best is the fastest path this CPU and OS support. AVX-512 needs AVX512F
// (the 512-bit instructions) and AVX512VL (the 256-bit stores of the
// chaining values); x/sys/cpu reports both only where the OS saves the
// ZMM registers.
var best = func() Path {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL:
		return AVX512
	case cpu.X86.HasAVX2:
		return AVX2
	}
	return Generic
}()

// supported reports whether this CPU can run p.
func supported(p Path) bool { return p <= best }
