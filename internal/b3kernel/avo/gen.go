// Command gen writes internal/b3kernel's amd64 assembly with avo:
//
//	cd internal/b3kernel/avo && go run . -out ../kernel_amd64.s -stubs ../kernel_amd64.go -pkg b3kernel
//
// It is a module of its own, so that modelgate's go.mod does not require avo.
//
// Derived from lukechampine.com/blake3 v1.4.1's avo/gen.go (the rounds, the
// counter set-up and the AVX2 transpose), Copyright (c) 2020 Luke Champine,
// MIT License:
//
//	Permission is hereby granted, free of charge, to any person obtaining a
//	copy of this software and associated documentation files (the
//	"Software"), to deal in the Software without restriction, including
//	without limitation the rights to use, copy, modify, merge, publish,
//	distribute, sublicense, and/or sell copies of the Software, and to
//	permit persons to whom the Software is furnished to do so, subject to
//	the following conditions:
//
//	The above copyright notice and this permission notice shall be included
//	in all copies or substantial portions of the Software.
//
//	THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
//	OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
//	MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
//	IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
//	CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
//	TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
//	SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
//
// What differs from guts: guts loads each block's message words with 16
// VPGATHERDD (AVX-512) or VPGATHERDD ymm (AVX2) a block. Here the message
// is read with contiguous row loads and transposed in registers, as the
// BLAKE3 team's blake3_avx512.c (transpose_vecs_512: unpack 32-bit, unpack
// 64-bit, then two rounds of VSHUFI32X4) and blake3_avx2.c do
// (github.com/BLAKE3-team/BLAKE3, CC0-1.0 / Apache-2.0). The four G
// functions of a half-round are interleaved, as in their round_fn16; chunks
// and parents share one generator (parents are one 64-byte block at a
// stride of 64 bytes, chunks sixteen blocks at a stride of 1024); and the
// chaining values are written back by a transpose, not by scatters.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// BLAKE3's domain flags.
const (
	flagChunkStart = 1
	flagChunkEnd   = 2
	flagParent     = 4
)

func main() {
	genGlobals()
	gen16("chunks16AVX512", chunkShape(16))
	gen16("parents16AVX512", parentShape(16))
	gen8("chunks8AVX2", chunkShape(8))
	gen8("parents8AVX2", parentShape(8))
	Generate()
}

// shape is what differs between hashing chunks and hashing parents.
type shape struct {
	signature string
	stride    int  // bytes between the inputs of two lanes
	blocks    int  // 64-byte blocks per input
	chunks    bool // counter per lane, CHUNK_START and CHUNK_END; else PARENT
}

func chunkShape(lanes int) shape {
	return shape{
		signature: fmt.Sprintf("func(cvs *[%d][8]uint32, buf *[%d]byte, key *[8]uint32, counter uint64, flags uint32)", lanes, lanes*1024),
		stride:    1024,
		blocks:    16,
		chunks:    true,
	}
}

func parentShape(lanes int) shape {
	return shape{
		signature: fmt.Sprintf("func(cvs *[%d][8]uint32, buf *[%d][8]uint32, key *[8]uint32, flags uint32)", lanes, 2*lanes),
		stride:    64,
		blocks:    1,
	}
}

var globals struct {
	iv, seq, seq64, rot8, rot16 Mem
}

func genGlobals() {
	globals.iv = GLOBL("iv", RODATA|NOPTR)
	for i, w := range []uint32{0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A} {
		DATA(i*4, U32(w))
	}
	globals.seq = GLOBL("seq", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(i*4, U32(i))
	}
	globals.seq64 = GLOBL("seq64", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(i*8, U64(i))
	}
	globals.rot8 = GLOBL("shuffle_rot8", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(i*4, U32(0x00030201+0x04040404*i))
	}
	globals.rot16 = GLOBL("shuffle_rot16", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(i*4, U32(0x01000302+0x04040404*i))
	}
}

// scalars copies the flags and counter arguments to the stack, where
// VPBROADCASTD and VPBROADCASTQ read them (go vet checks the width of
// every argument read, and a broadcast reads more than a uint32).
func scalars(s shape) (flags, counter Mem) {
	mem := AllocLocal(16)
	counter, flags = mem, mem.Offset(8)
	f := Load(Param("flags"), GP32())
	MOVL(f, flags)
	if s.chunks {
		c := Load(Param("counter"), GP64())
		MOVQ(c, counter)
	}
	return flags, counter
}

// permute is BLAKE3's message schedule between rounds.
func permute[T any](m [16]T) [16]T {
	return [16]T{
		m[2], m[6], m[3], m[10],
		m[7], m[0], m[4], m[13],
		m[1], m[11], m[12], m[5],
		m[9], m[14], m[15], m[8],
	}
}

// ---- AVX-512: 16 lanes, every register physical ----
//
// Z0-Z7 hold the chaining values across blocks. At the top of a block the
// 16 message rows are loaded into 16 of Z8-Z31 and transposed in place, the
// 8 registers left over serving as temporaries; they then take state words
// 8-15 for the rounds.

func zmms(from, n int) []VecPhysical {
	all := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}
	return append([]VecPhysical(nil), all[from:from+n]...)
}

// transposer rewrites pairs of registers in place, taking a register for
// each pair's first output from free and giving back the first input's.
type transposer struct{ free []VecPhysical }

func (t *transposer) pair(lo, hi func(b, a, dst Op), a, b VecPhysical) (VecPhysical, VecPhysical) {
	d := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	lo(b, a, d)
	hi(b, a, b)
	t.free = append(t.free, a)
	return d, b
}

func unpackLo32(b, a, d Op)  { VPUNPCKLDQ(b, a, d) }
func unpackHi32(b, a, d Op)  { VPUNPCKHDQ(b, a, d) }
func unpackLo64(b, a, d Op)  { VPUNPCKLQDQ(b, a, d) }
func unpackHi64(b, a, d Op)  { VPUNPCKHQDQ(b, a, d) }
func unpackLo128(b, a, d Op) { VSHUFI32X4(Imm(0x88), b, a, d) } // a0 a2 b0 b2
func unpackHi128(b, a, d Op) { VSHUFI32X4(Imm(0xdd), b, a, d) } // a1 a3 b1 b3

// transpose16 turns rows v[i] (16 words each) into columns: on return
// v[w] holds word w of every row, lane i from row i. It is
// blake3_avx512.c's transpose_vecs_512, in place.
func (t *transposer) transpose16(v [16]VecPhysical) [16]VecPhysical {
	// 32-bit interleave: ab_0 = v0/v1 lanes 0,1,4,5..., ab_2 = lanes 2,3,6,7...
	var s1 [16]VecPhysical
	for i := 0; i < 16; i += 2 {
		s1[i], s1[i+1] = t.pair(unpackLo32, unpackHi32, v[i], v[i+1])
	}
	// 64-bit interleave of (ab, cd), (ef, gh), ...: abcd_0..3.
	var s2 [16]VecPhysical
	for g := 0; g < 16; g += 4 {
		s2[g+0], s2[g+1] = t.pair(unpackLo64, unpackHi64, s1[g+0], s1[g+2])
		s2[g+2], s2[g+3] = t.pair(unpackLo64, unpackHi64, s1[g+1], s1[g+3])
	}
	// 128-bit interleave of (abcd_k, efgh_k): abcdefgh_k and _k+4.
	var s3 [16]VecPhysical
	for h := 0; h < 16; h += 8 {
		for k := 0; k < 4; k++ {
			s3[h+k], s3[h+k+4] = t.pair(unpackLo128, unpackHi128, s2[h+k], s2[h+4+k])
		}
	}
	// 128-bit interleave of (abcdefgh_k, ijklmnop_k): words k and k+8.
	var out [16]VecPhysical
	for k := 0; k < 8; k++ {
		out[k], out[k+8] = t.pair(unpackLo128, unpackHi128, s3[k], s3[8+k])
	}
	return out
}

func gen16(name string, s shape) {
	TEXT(name, NOSPLIT, s.signature)
	Pragma("noescape")
	cvs := Mem{Base: Load(Param("cvs"), GP64())}
	buf := Mem{Base: Load(Param("buf"), GP64())}
	key := Mem{Base: Load(Param("key"), GP64())}
	flags, counter := scalars(s)

	h := zmms(0, 8)
	counterLo, counterHi := AllocLocal(64), AllocLocal(64)
	blockFlags := AllocLocal(16 * 4)

	Comment("Counters and flags, per lane and per block")
	if s.chunks {
		VPBROADCASTD(counter, Z8)
		VPADDD(globals.seq, Z8, Z8)
		VPCMPUD(Imm(1), globals.seq, Z8, K1) // carried: lo < lane
		VPBROADCASTD(counter.Offset(4), Z9)
		VPADDD_BCST(globals.seq.Offset(4), Z9, K1, Z9)
		VMOVDQU32(Z8, counterLo)
		VMOVDQU32(Z9, counterHi)
		VPBROADCASTD(flags, Z8)
		VMOVDQU32(Z8, blockFlags)
		ORL(Imm(flagChunkStart), blockFlags.Offset(0))
		ORL(Imm(flagChunkEnd), blockFlags.Offset((s.blocks-1)*4))
	} else {
		VPXORD(Z8, Z8, Z8)
		VMOVDQU32(Z8, counterLo)
		VMOVDQU32(Z8, counterHi)
		VPBROADCASTD(flags, Z8)
		VMOVDQU32(Z8, blockFlags)
		ORL(Imm(flagParent), blockFlags.Offset(0))
	}

	Comment("Key")
	for i, r := range h {
		VPBROADCASTD(key.Offset(i*4), r)
	}

	block := GP64()
	XORQ(block, block)
	Label(name + "_block")

	Comment("Load 16 message rows and transpose them")
	t := &transposer{}
	var rows [16]VecPhysical
	for i, r := range zmms(16, 16) {
		rows[i] = r
		VMOVDQU32(buf.Offset(i*s.stride), r)
	}
	t.free = zmms(8, 8)
	m := t.transpose16(rows)
	if s.blocks > 1 {
		ADDQ(Imm(64), buf.Base)
	}

	Comment("State words 8-15")
	var v [16]VecPhysical
	copy(v[:8], h)
	copy(v[8:], t.free)
	for i := 0; i < 4; i++ {
		VPBROADCASTD(globals.iv.Offset(i*4), v[8+i])
	}
	VMOVDQU32(counterLo, v[12])
	VMOVDQU32(counterHi, v[13])
	VPBROADCASTD(globals.seq.Offset(4), v[14])
	VPSLLD(Imm(6), v[14], v[14]) // 64, the block length
	VPBROADCASTD(blockFlags.Idx(block, 4), v[15])

	rounds16(v, m)

	Comment("New chaining values")
	for i := 0; i < 8; i++ {
		VPXORD(v[i+8], v[i], v[i])
	}
	if s.blocks > 1 {
		INCQ(block)
		CMPQ(block, U32(s.blocks))
		JNE(LabelRef(name + "_block"))
	}

	Comment("Transpose the chaining values into rows and store them")
	var cv [16]VecPhysical
	copy(cv[:8], h)
	copy(cv[8:], zmms(8, 8))
	for _, r := range cv[8:] {
		VPXORD(r, r, r)
	}
	t.free = zmms(16, 8)
	out := t.transpose16(cv)
	for i, r := range out {
		VMOVDQU32(r.AsY(), cvs.Offset(i*32))
	}
	VZEROUPPER()
	RET()
}

// rounds16 is BLAKE3's seven rounds on 16 lanes, the four G of a column
// or diagonal step interleaved.
func rounds16(v [16]VecPhysical, m [16]VecPhysical) {
	g4 := func(a, b, c, d [4]VecPhysical, mx, my [4]VecPhysical) {
		for i := range a {
			VPADDD(b[i], a[i], a[i])
		}
		for i := range a {
			VPADDD(mx[i], a[i], a[i])
		}
		for i := range a {
			VPXORD(a[i], d[i], d[i])
		}
		for i := range a {
			VPRORD(Imm(16), d[i], d[i])
		}
		for i := range a {
			VPADDD(d[i], c[i], c[i])
		}
		for i := range a {
			VPXORD(c[i], b[i], b[i])
		}
		for i := range a {
			VPRORD(Imm(12), b[i], b[i])
		}
		for i := range a {
			VPADDD(b[i], a[i], a[i])
		}
		for i := range a {
			VPADDD(my[i], a[i], a[i])
		}
		for i := range a {
			VPXORD(a[i], d[i], d[i])
		}
		for i := range a {
			VPRORD(Imm(8), d[i], d[i])
		}
		for i := range a {
			VPADDD(d[i], c[i], c[i])
		}
		for i := range a {
			VPXORD(c[i], b[i], b[i])
		}
		for i := range a {
			VPRORD(Imm(7), b[i], b[i])
		}
	}
	q := func(i ...int) (r [4]VecPhysical) {
		for k, j := range i {
			r[k] = v[j]
		}
		return r
	}
	for r := 0; r < 7; r++ {
		Comment(fmt.Sprintf("Round %d", r+1))
		g4(q(0, 1, 2, 3), q(4, 5, 6, 7), q(8, 9, 10, 11), q(12, 13, 14, 15),
			[4]VecPhysical{m[0], m[2], m[4], m[6]}, [4]VecPhysical{m[1], m[3], m[5], m[7]})
		g4(q(0, 1, 2, 3), q(5, 6, 7, 4), q(10, 11, 8, 9), q(15, 12, 13, 14),
			[4]VecPhysical{m[8], m[10], m[12], m[14]}, [4]VecPhysical{m[9], m[11], m[13], m[15]})
		m = permute(m)
	}
}

// ---- AVX2: 8 lanes, virtual registers ----
//
// Sixteen YMM registers hold the state during the rounds, so the message
// words and the chaining values live on the stack between blocks. Each
// half of a block (words 0-7, then 8-15) is loaded as 8 rows and
// transposed as blake3_avx2.c's transpose_vecs does.

func gen8(name string, s shape) {
	// Not NOSPLIT: the frame (the message and chaining values) is over
	// the linker's NOSPLIT limit, so the function checks its stack.
	TEXT(name, 0, s.signature)
	Pragma("noescape")
	cvs := Mem{Base: Load(Param("cvs"), GP64())}
	buf := Mem{Base: Load(Param("buf"), GP64())}
	key := Mem{Base: Load(Param("key"), GP64())}
	flags, counter := scalars(s)

	var vs [16]VecVirtual
	var mv [16]Mem
	for i := range vs {
		vs[i] = YMM()
		mv[i] = AllocLocal(32)
	}
	hs := AllocLocal(8 * 32)
	counterLo, counterHi := AllocLocal(32), AllocLocal(32)
	blockFlags := AllocLocal(16 * 4)

	Comment("Counters and flags, per lane and per block")
	if s.chunks {
		loadCounter(counter, vs[12:14], vs[14:16])
		VMOVDQU(vs[12], counterLo)
		VMOVDQU(vs[13], counterHi)
		VPBROADCASTD(flags, vs[14])
		VMOVDQU(vs[14], blockFlags.Offset(0))
		VMOVDQU(vs[14], blockFlags.Offset(32))
		ORL(Imm(flagChunkStart), blockFlags.Offset(0))
		ORL(Imm(flagChunkEnd), blockFlags.Offset((s.blocks-1)*4))
	} else {
		VPXOR(vs[12], vs[12], vs[12])
		VMOVDQU(vs[12], counterLo)
		VMOVDQU(vs[12], counterHi)
		VPBROADCASTD(flags, vs[14])
		VMOVDQU(vs[14], blockFlags.Offset(0))
		ORL(Imm(flagParent), blockFlags.Offset(0))
	}

	Comment("Key")
	for i := 0; i < 8; i++ {
		VPBROADCASTD(key.Offset(i*4), vs[0])
		VMOVDQU(vs[0], hs.Offset(i*32))
	}

	block := GP64()
	XORQ(block, block)
	Label(name + "_block")

	Comment("Load the message as 2 x 8 rows and transpose them")
	for half := 0; half < 2; half++ {
		for i := 0; i < 8; i++ {
			VMOVDQU(buf.Offset(i*s.stride+half*32), vs[i])
		}
		transpose8(vs[:8], vs[8:])
		for w := 0; w < 8; w++ {
			VMOVDQU(vs[8+w], mv[half*8+w])
		}
	}
	if s.blocks > 1 {
		ADDQ(Imm(64), buf.Base)
	}

	Comment("State")
	for i := 0; i < 8; i++ {
		VMOVDQU(hs.Offset(i*32), vs[i])
	}
	for i := 0; i < 4; i++ {
		VPBROADCASTD(globals.iv.Offset(i*4), vs[8+i])
	}
	VMOVDQU(counterLo, vs[12])
	VMOVDQU(counterHi, vs[13])
	VPBROADCASTD(globals.seq.Offset(4), vs[14])
	VPSLLD(Imm(6), vs[14], vs[14]) // 64, the block length
	VPBROADCASTD(blockFlags.Idx(block, 4), vs[15])

	rounds8(vs, mv)

	Comment("New chaining values")
	for i := 0; i < 8; i++ {
		VPXOR(vs[i+8], vs[i], vs[i])
		VMOVDQU(vs[i], hs.Offset(i*32))
	}
	if s.blocks > 1 {
		INCQ(block)
		CMPQ(block, U32(s.blocks))
		JNE(LabelRef(name + "_block"))
	}

	Comment("Transpose the chaining values into rows and store them")
	transpose8(vs[:8], vs[8:])
	for i := 0; i < 8; i++ {
		VMOVDQU(vs[8+i], cvs.Offset(i*32))
	}
	VZEROUPPER()
	RET()
}

// rounds8 is guts' performRoundsAVX2: the message from the stack, and
// state word 8 spilled while rotations by 7 and 12 need a temporary.
func rounds8(sv [16]VecVirtual, mv [16]Mem) {
	spillMem := AllocLocal(32)
	tmp := sv[8]
	g := func(a, b, c, d VecVirtual, mx, my Mem) {
		rotr := func(v VecVirtual, n uint64, dst VecVirtual) {
			switch n {
			case 8, 16:
				shuf := map[uint64]Mem{8: globals.rot8, 16: globals.rot16}[n]
				VPSHUFB(shuf, v, dst)
				if c == tmp {
					VMOVDQU(spillMem, c)
				}
			case 7, 12:
				if c == tmp {
					VMOVDQU(c, spillMem)
				}
				VPSRLD(Imm(n), v, tmp)
				VPSLLD(Imm(32-n), v, dst)
				VPOR(dst, tmp, dst)
			}
		}
		VPADDD(a, b, a)
		VPADDD(mx, a, a)
		VPXOR(d, a, d)
		rotr(d, 16, d)
		VPADDD(c, d, c)
		VPXOR(b, c, b)
		rotr(b, 12, b)
		VPADDD(a, b, a)
		VPADDD(my, a, a)
		VPXOR(d, a, d)
		rotr(d, 8, d)
		VPADDD(c, d, c)
		VPXOR(b, c, b)
		rotr(b, 7, b)
	}

	VMOVDQU(sv[8], spillMem)
	for r := 0; r < 7; r++ {
		Comment(fmt.Sprintf("Round %d", r+1))
		g(sv[0], sv[4], sv[8], sv[12], mv[0], mv[1])
		g(sv[1], sv[5], sv[9], sv[13], mv[2], mv[3])
		g(sv[2], sv[6], sv[10], sv[14], mv[4], mv[5])
		g(sv[3], sv[7], sv[11], sv[15], mv[6], mv[7])
		g(sv[0], sv[5], sv[10], sv[15], mv[8], mv[9])
		g(sv[1], sv[6], sv[11], sv[12], mv[10], mv[11])
		g(sv[2], sv[7], sv[8], sv[13], mv[12], mv[13])
		g(sv[3], sv[4], sv[9], sv[14], mv[14], mv[15])
		mv = permute(mv)
	}
	VMOVDQU(spillMem, sv[8])
}

// loadCounter fills dst[0] and dst[1] with the low and high words of
// counter+0..7.
func loadCounter(counter Mem, dst, scratch []VecVirtual) {
	VPBROADCASTQ(counter, dst[0])
	VPBROADCASTQ(counter, dst[1])
	VPADDQ(globals.seq64.Offset(0*4), dst[0], dst[0])
	VPADDQ(globals.seq64.Offset(8*4), dst[1], dst[1])
	VPUNPCKLDQ(dst[1], dst[0], scratch[0])
	VPUNPCKHDQ(dst[1], dst[0], scratch[1])
	VPUNPCKLDQ(scratch[1], scratch[0], dst[0])
	VPUNPCKHDQ(scratch[1], scratch[0], dst[1])
	const perm = 0<<0 | 2<<2 | 1<<4 | 3<<6
	VPERMQ(Imm(perm), dst[0], dst[0])
	VPERMQ(Imm(perm), dst[1], dst[1])
}

// transpose8 turns the 8x8 word matrix in src (rows) into dst (columns),
// clobbering src.
func transpose8(src, dst []VecVirtual) {
	for i := 0; i < 8; i += 2 {
		VPUNPCKLDQ(src[i+1], src[i], dst[i+0])
		VPUNPCKHDQ(src[i+1], src[i], dst[i+1])
	}
	for i := 0; i < 4; i++ {
		j := i*2 - i%2 // 0, 1, 4, 5
		VPUNPCKLQDQ(dst[j+2], dst[j], src[i*2+0])
		VPUNPCKHQDQ(dst[j+2], dst[j], src[i*2+1])
	}
	for i := 0; i < 4; i++ {
		VPERM2I128(Imm(0x20), src[i+4], src[i], dst[i+0])
		VPERM2I128(Imm(0x31), src[i+4], src[i], dst[i+4])
	}
}
