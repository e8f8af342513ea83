package b3kernel_test

import (
	"encoding/binary"
	"testing"

	"github.com/modelgate/modelgate/internal/b3kernel"
)

// FuzzKernelAgreesWithGeneric compresses 16 chunks (the fuzzer's bytes,
// repeated to fill them) and 16 parents on the path CPUID chose, and on
// the portable path, with a key, counter and flags from the input.
func FuzzKernelAgreesWithGeneric(f *testing.F) {
	f.Add([]byte{0}, uint64(0), uint32(0), uint32(0))
	f.Add([]byte("abc"), uint64(1<<32-8), uint32(1<<4), uint32(0x6A09E667))
	f.Add(make([]byte, 16<<10), uint64(1<<63), uint32(1<<6), uint32(1))
	f.Add([]byte{0xff, 0x00, 0x80}, uint64(1<<32-1), uint32(0xffffffff), uint32(0xdeadbeef))
	f.Fuzz(func(t *testing.T, seed []byte, counter uint64, flags, keyWord uint32) {
		if len(seed) == 0 {
			return
		}
		flags &^= 0xf // the kernels own CHUNK_START, CHUNK_END, PARENT and ROOT
		var buf [b3kernel.Lanes * b3kernel.ChunkSize]byte
		for i := range buf {
			buf[i] = seed[i%len(seed)] ^ byte(i/len(seed))
		}
		var key [8]uint32
		for i := range key {
			key[i] = keyWord*uint32(2*i+1) ^ binary.LittleEndian.Uint32(buf[4*i:])
		}
		var in [2 * b3kernel.Lanes][8]uint32
		for i := range in {
			for j := range in[i] {
				in[i][j] = binary.LittleEndian.Uint32(buf[32*i+4*j:])
			}
		}
		var fast, slow [b3kernel.Lanes][8]uint32
		var fastP, slowP [b3kernel.Lanes][8]uint32
		b3kernel.ChunkCVs(&fast, &buf, &key, counter, flags)
		b3kernel.ParentCVs(&fastP, &in, &key, flags)
		restore, _ := b3kernel.UsePath(b3kernel.Generic)
		b3kernel.ChunkCVs(&slow, &buf, &key, counter, flags)
		b3kernel.ParentCVs(&slowP, &in, &key, flags)
		restore()
		if fast != slow {
			t.Fatalf("chunks on %v: %x, generic %x", b3kernel.Active(), fast, slow)
		}
		if fastP != slowP {
			t.Fatalf("parents on %v: %x, generic %x", b3kernel.Active(), fastP, slowP)
		}
	})
}
