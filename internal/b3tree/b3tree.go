// Package b3tree computes the BLAKE3 hash of a file across every core,
// reading it in fixed segments so that memory stays bounded whatever the
// file's size.
//
// BLAKE3 is a Merkle tree over 1 KiB chunks, and any aligned subtree of a
// power-of-two number of chunks can be hashed on its own: its chaining
// value depends only on its bytes and its position. Sum splits the input
// into Segment-byte subtrees, hashes them on parallel workers (each with
// internal/b3kernel's AVX-512, AVX2 or portable kernels, chosen by CPUID),
// and merges their chaining values in order on one goroutine, exactly as
// the BLAKE3 reference merges chunk chaining values. The last 1 to Segment bytes
// are hashed as the tail of the tree, and the root is finalized with the
// ROOT flag. The result is the unkeyed 32-byte BLAKE3 hash, the one b3sum
// prints.
//
// Peak memory is one Segment buffer per worker, plus 16 KiB of stack per
// worker (a segment's chunk chaining values).
package b3tree

import (
	"context"
	"errors"
	"io"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"lukechampine.com/blake3/guts"

	"github.com/modelgate/modelgate/internal/b3kernel"
)

// Segment is the size of the subtree a worker reads and hashes at a time:
// 512 KiB, 512 chunks, which stay in a core's L2 cache between the copy
// and the hash. Measured hashing 2 GiB from the page cache on 2 cores (7
// interleaved runs, medians): 128 KiB 0.412 s, 256 KiB 0.398 s, 512 KiB
// 0.386 s, 1 MiB 0.413 s; b3sum 0.326 s.
const Segment = 1 << 19

// round is how many segments are hashed between two merges: the chaining
// values of one round are held at once (8 KiB).
const round = 256

const (
	chunk  = guts.ChunkSize
	simd   = guts.MaxSIMD * guts.ChunkSize
	height = 9 // log2(Segment / chunk)
)

// ReadError is a failed read of the input at Offset.
type ReadError struct {
	Offset int64
	Err    error
}

// Error returns the read error's message.
func (e *ReadError) Error() string { return e.Err.Error() }

// Unwrap returns the read's error.
func (e *ReadError) Unwrap() error { return e.Err }

// Sum returns the BLAKE3 hash of the size bytes of r, hashing with up to
// workers goroutines (GOMAXPROCS when workers < 1). It checks ctx between
// segments and tells progress (which may be nil, and is called from the
// workers concurrently) how many bytes each segment held. A read that
// fails, or ends before size, returns a *ReadError.
func Sum(ctx context.Context, r io.ReaderAt, size int64, workers int, progress func(int64)) ([32]byte, error) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	var t tree
	// full is the number of whole segments before the tail; the tail
	// holds the last 1..Segment bytes (none for an empty input).
	full := int64(0)
	if size > 0 {
		full = (size - 1) / Segment
	}
	cvs := make([][8]uint32, round)
	bufs := sync.Pool{New: func() any { return new([Segment]byte) }}
	for first := int64(0); first < full; first += round {
		n := min(round, full-first)
		if err := parallel(ctx, workers, n, func(i int64) error {
			buf := bufs.Get().(*[Segment]byte)
			defer bufs.Put(buf)
			off := (first + i) * Segment
			if err := readFull(r, buf[:], off); err != nil {
				return err
			}
			cvs[i] = segmentCV(buf, uint64(off/chunk))
			if progress != nil {
				progress(Segment)
			}
			return nil
		}); err != nil {
			return [32]byte{}, err
		}
		for i := range n {
			t.push(cvs[i], height)
		}
	}
	if err := ctx.Err(); err != nil {
		return [32]byte{}, err
	}
	buf := bufs.Get().(*[Segment]byte)
	tail := buf[:size-full*Segment]
	if err := readFull(r, tail, full*Segment); err != nil {
		return [32]byte{}, err
	}
	if progress != nil && len(tail) > 0 {
		progress(int64(len(tail)))
	}
	return t.finish(tail), nil
}

// parallel calls f(0..n-1) on up to workers goroutines and returns the
// first error; once one fails or ctx is done, no further calls start.
func parallel(ctx context.Context, workers int, n int64, f func(int64) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	fail := func(err error) { once.Do(func() { first = err }) }
	var stop atomic.Bool
	for range min(int64(workers), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(err)
					stop.Store(true)
					return
				}
				if err := f(i); err != nil {
					fail(err)
					stop.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &ReadError{Offset: off + int64(n), Err: err}
}

// segmentCV is the chaining value of the full segment whose first chunk
// has index counter.
func segmentCV(buf *[Segment]byte, counter uint64) [8]uint32 {
	return b3kernel.SubtreeCV(buf[:], counter)
}

// tree is the BLAKE3 chaining-value stack: at most one complete subtree
// per height, to the left of everything pushed so far.
type tree struct {
	stack   [64][8]uint32
	counter uint64 // chunks pushed; bit h set: a subtree of height h is held
}

// push adds the subtree of 2^h chunks that follows everything pushed so
// far, merging it with the held subtrees it completes.
func (t *tree) push(cv [8]uint32, h int) {
	t.counter += 1 << h
	for ; t.counter&(1<<h) == 0; h++ {
		cv = guts.ChainingValue(guts.ParentNode(t.stack[h], cv, &guts.IV, 0))
	}
	t.stack[h] = cv
}

// finish hashes the tail (the last 0..Segment bytes, whose first chunk
// follows everything pushed) and returns the root hash: the tail's chunks
// but the last are pushed as the largest aligned subtrees that fit, the
// last chunk's node is merged with the held subtrees from right to left,
// and the final node is compressed with the ROOT flag.
func (t *tree) finish(tail []byte) [32]byte {
	last := 0
	if len(tail) > 0 {
		last = (len(tail) - 1) / chunk * chunk
	}
	body := tail[:last]
	for _, h := range guts.Eigentrees(t.counter, uint64(len(body)/chunk)) {
		n := (1 << h) * chunk
		t.push(subtreeCV(body[:n], t.counter), h)
		body = body[n:]
	}
	node := guts.CompressChunk(tail[last:], &guts.IV, t.counter, 0)
	for h := bits.TrailingZeros64(t.counter); h < bits.Len64(t.counter); h++ {
		if t.counter&(1<<h) != 0 {
			node = guts.ParentNode(t.stack[h], guts.ChainingValue(node), &guts.IV, 0)
		}
	}
	node.Flags |= guts.FlagRoot
	out := guts.WordsToBytes(guts.CompressNode(node))
	return [32]byte(out[:32])
}

// subtreeCV is the chaining value of b, an aligned power-of-two number
// of chunks (at most one Segment) whose first chunk has index counter.
func subtreeCV(b []byte, counter uint64) [8]uint32 {
	switch {
	case len(b) >= b3kernel.Lanes*chunk:
		return b3kernel.SubtreeCV(b, counter)
	case len(b) == chunk:
		return guts.ChainingValue(guts.CompressChunk(b, &guts.IV, counter, 0))
	}
	var buf [simd]byte
	copy(buf[:], b)
	return guts.ChainingValue(guts.CompressBuffer(&buf, len(b), &guts.IV, counter, 0))
}
