package b3kernel_test

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	zeebo "github.com/zeebo/blake3"
	"lukechampine.com/blake3/guts"

	"github.com/modelgate/modelgate/internal/b3kernel"
)

var paths = []b3kernel.Path{b3kernel.Generic, b3kernel.AVX2, b3kernel.AVX512}

// eachPath runs f with each path this CPU supports in use. Under CI an
// unsupported path fails the test only where the host is expected to run
// it: every x86-64 CI host has AVX2.
func eachPath(t *testing.T, f func(t *testing.T)) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			restore, ok := b3kernel.UsePath(p)
			if !ok {
				t.Skipf("this CPU cannot run the %v path", p)
			}
			defer restore()
			f(t)
		})
	}
}

func fill(b []byte, seed uint64) {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b) //nolint:errcheck // ChaCha8.Read never fails
}

// gutsSubtree is the chaining value of an aligned subtree of whole chunks,
// computed with guts alone: CompressBuffer per 16 chunks, then parents.
func gutsSubtree(b []byte, counter uint64, key *[8]uint32, flags uint32) [8]uint32 {
	if len(b) <= guts.MaxSIMD*guts.ChunkSize {
		var buf [guts.MaxSIMD * guts.ChunkSize]byte
		copy(buf[:], b)
		return guts.ChainingValue(guts.CompressBuffer(&buf, len(b), key, counter, flags))
	}
	half := len(b) / 2
	l := gutsSubtree(b[:half], counter, key, flags)
	r := gutsSubtree(b[half:], counter+uint64(half/guts.ChunkSize), key, flags)
	return guts.ChainingValue(guts.ParentNode(l, r, key, flags))
}

// randomCounter returns counters near the 32-bit boundary, where the
// kernels carry into the high word, as often as anywhere else.
func randomCounter(r *rand.Rand) uint64 {
	switch r.IntN(4) {
	case 0:
		return r.Uint64N(1 << 20)
	case 1:
		return 1<<32 - r.Uint64N(32)
	case 2:
		return r.Uint64() &^ (1 << 63)
	}
	return uint64(r.Uint32())<<32 - r.Uint64N(64)
}

// TestChunkCVsAgreeWithGuts compares every path's 16 chunk chaining values
// with guts' (and guts' 8-chunk AVX2/AVX-512 buffers), over random data,
// keys, flags and counters, including counters whose low word carries
// inside the group.
func TestChunkCVsAgreeWithGuts(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 1))
		var buf [b3kernel.Lanes * b3kernel.ChunkSize]byte
		for i := range 200 {
			fill(buf[:], uint64(i))
			key := guts.IV
			flags := uint32(0)
			if i%3 == 1 {
				for k := range key {
					key[k] = r.Uint32()
				}
				flags = 1 << 4 // KEYED_HASH
			}
			counter := randomCounter(r)
			var got [b3kernel.Lanes][8]uint32
			b3kernel.ChunkCVs(&got, &buf, &key, counter, flags)
			for c := range got {
				want := guts.ChainingValue(guts.CompressChunk(buf[c*1024:(c+1)*1024], &key, counter+uint64(c), flags))
				require.Equal(t, want, got[c], "chunk %d of group %d at counter %#x", c, i, counter)
			}
			// guts' own SIMD tree of the 16 chunks, from its kernels.
			want := guts.ChainingValue(guts.CompressBuffer(&buf, len(buf), &key, counter, flags))
			var level [2 * b3kernel.Lanes][8]uint32
			copy(level[:], got[:])
			for n := b3kernel.Lanes; n > 1; n /= 2 {
				b3kernel.ParentCVs((*[b3kernel.Lanes][8]uint32)(level[:]), &level, &key, flags)
			}
			require.Equal(t, want, level[0], "group %d at counter %#x", i, counter)
		}
	})
}

// TestParentCVsAgreeWithGuts compares every path's parents with guts'
// ParentNode, out of place and in place.
func TestParentCVsAgreeWithGuts(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(2, 2))
		for i := range 100 {
			var in [2 * b3kernel.Lanes][8]uint32
			for j := range in {
				for k := range in[j] {
					in[j][k] = r.Uint32()
				}
			}
			key := guts.IV
			if i%2 == 1 {
				key[i%8] ^= r.Uint32()
			}
			flags := uint32(i%2) << 4
			var want [b3kernel.Lanes][8]uint32
			for j := range want {
				want[j] = guts.ChainingValue(guts.ParentNode(in[2*j], in[2*j+1], &key, flags))
			}
			var got [b3kernel.Lanes][8]uint32
			b3kernel.ParentCVs(&got, &in, &key, flags)
			require.Equal(t, want, got)
			b3kernel.ParentCVs((*[b3kernel.Lanes][8]uint32)(in[:]), &in, &key, flags)
			require.Equal(t, want[:], in[:b3kernel.Lanes], "in place")
		}
	})
}

// TestSubtreeAgreesWithGutsAndZeebo hashes power-of-two inputs of 16 to
// 2048 chunks: the subtree's chaining value against guts' at random
// aligned counters, and, at counter 0 and from 32 chunks, the root built from the two halves
// against github.com/zeebo/blake3's Sum256 of the whole input.
func TestSubtreeAgreesWithGutsAndZeebo(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 3))
		data := make([]byte, 2048*b3kernel.ChunkSize)
		fill(data, 7)
		for chunks := b3kernel.Lanes; chunks <= 2048; chunks *= 2 {
			b := data[:chunks*b3kernel.ChunkSize]
			for range 3 {
				counter := randomCounter(r) &^ uint64(chunks-1)
				assert.Equal(t, gutsSubtree(b, counter, &guts.IV, 0), b3kernel.SubtreeCV(b, counter), "%d chunks at %#x", chunks, counter)
			}
			if chunks < 2*b3kernel.Lanes {
				continue
			}
			half := len(b) / 2
			root := guts.ParentNode(b3kernel.SubtreeCV(b[:half], 0), b3kernel.SubtreeCV(b[half:], uint64(chunks/2)), &guts.IV, 0)
			root.Flags |= guts.FlagRoot
			out := guts.WordsToBytes(guts.CompressNode(root))
			want := zeebo.Sum256(b)
			assert.Equal(t, hex.EncodeToString(want[:]), hex.EncodeToString(out[:32]), "%d chunks", chunks)
		}
	})
}

func TestSubtreeRefusesUnalignedShapes(t *testing.T) {
	for _, c := range []struct {
		size    int
		counter uint64
	}{
		{15 * 1024, 0},   // fewer than Lanes chunks
		{24 * 1024, 0},   // not a power of two
		{16*1024 + 1, 0}, // a partial chunk
		{32 * 1024, 16},  // not aligned
	} {
		assert.Panics(t, func() { b3kernel.SubtreeCV(make([]byte, c.size), c.counter) }, "%d bytes at %d", c.size, c.counter)
	}
}

func TestActiveIsTheFastestSupported(t *testing.T) {
	for _, p := range paths {
		restore, ok := b3kernel.UsePath(p)
		restore()
		if p > b3kernel.Active() {
			assert.False(t, ok, "%v is supported but %v is in use", p, b3kernel.Active())
		} else {
			assert.True(t, ok, "%v", p)
		}
	}
}

// TestSubtreeCVDoesNotAllocate: a worker hashes every segment with its
// chaining values on the stack.
func TestSubtreeCVDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 512*b3kernel.ChunkSize)
	eachPath(t, func(t *testing.T) {
		assert.Zero(t, testing.AllocsPerRun(5, func() { b3kernel.SubtreeCV(buf, 0) }))
	})
}
