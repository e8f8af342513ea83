package loader

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"os"
	"sync"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/content"
	"github.com/modelgate/modelgate/internal/mmap"
	"github.com/modelgate/modelgate/verify"
)

// maxHeldFiles bounds the files Open keeps open, each under its read
// lease: the weight files (and index) whose bytes it parses and hands
// out, in the order of their names. Every other file is closed once
// identified and reopened while it is hashed; weight files past the bound,
// like files no lease can be taken on, are rehashed. The descriptors an
// Open uses are so at most maxHeldFiles, plus the root and one per worker.
// It exceeds the shard count of every published sharded checkpoint
// (DeepSeek-V3: 163).
const maxHeldFiles = 256

// parsed reports whether files of the role are parsed, and so held.
func parsed(r content.Role) bool { return r == content.Weights || r == content.Index }

// close releases mf's lease and closes it.
func (mf *modelFile) close() {
	if mf.lease != nil {
		_ = mf.lease.Release()
		mf.lease = nil
	}
	_ = mf.f.Close()
	mf.f = nil
}

// keepOrClose keeps an identified file open while it holds a lease and
// its bytes will be parsed; any other file is closed, to be reopened
// (reopen) when it is hashed or held.
func (o *opener) keepOrClose(m *Model, mf *modelFile) {
	if mf.lease == nil || !parsed(mf.id.Role) {
		mf.close()
		return
	}
	o.kept++
	m.addCloser(mf.f.Close)
	m.addCloser(mf.lease.Release)
}

// reopen opens a file closed after identification again, and refuses it
// if it is no longer the file identified (another file renamed over it, or
// its size or modification time changed).
func (o *opener) reopen(mf *modelFile) (*os.File, error) {
	f, st, err := o.openRegular(mf.name)
	if err != nil {
		return nil, err
	}
	if !os.SameFile(st, mf.st) || st.Size() != mf.st.Size() || !st.ModTime().Equal(mf.st.ModTime()) {
		f.Close()
		return nil, formats.WithPath(formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "file changed while it was verified (replaced, or its size or modification time changed)"), mf.name)
	}
	return f, nil
}

// hashed returns what verification hashes of mf: the held bytes of a
// parsed file, or the file reopened.
func (o *opener) hashed(mf *modelFile) (io.ReaderAt, func(), error) {
	if mf.h != nil {
		return mf.h.r, func() {}, nil
	}
	f, err := o.reopen(mf)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// held is how one file's bytes are held while it is verified and used.
type held struct {
	r    io.ReaderAt // the verified bytes: the leased file (guarded), a private copy, or the file rehashed
	mem  []byte      // the mapping or private copy, when in memory
	size int64
	head []byte // a leased file's first bytes, to re-check at the end
}

const headCheckBytes = 64 << 10

// hold maps, copies, wraps or rehashes the file per the mode: the bytes
// that will be hashed, parsed and handed out.
//
//   - Private copy: read once into private memory.
//   - Map and read-at, under the lease taken when the file was opened:
//     mapped, or read through the file (guarded); hashing reads through
//     h.r, in ChunkSize reads of the page cache the shared mapping also
//     shows, without every page counting towards the RSS.
//   - Map and read-at with no lease (the file is not this user's, is open
//     for writing elsewhere, or is past maxHeldFiles): rehashed. Its
//     chunks' digests are computed in one pass, and every later read
//     is checked against them: memory and descriptors stay bounded
//     whatever the file's size, and no read returns other bytes.
func (o *opener) hold(m *Model, mf *modelFile) (*held, error) {
	size := mf.st.Size()
	switch {
	case o.c.mode == ModePrivateCopy:
		f, err := o.reopen(mf)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return holdCopy(f, size)
	case mf.lease == nil:
		return o.holdRehashed(mf)
	}
	f, l := mf.f, mf.lease
	h := &held{r: &guarded{f: f, l: l}, size: size}
	if o.c.mode == ModeMap {
		mem, unmap, merr := mmap.Map(f, size)
		if merr != nil {
			return nil, formats.IOError(formats.NoOffset, merr)
		}
		m.addCloser(unmap)
		l.Protect(mem)
		h.mem = mem // parsed and handed out
		h.r = &guarded{f: f, l: l, mem: mem}
	}
	h.head = make([]byte, min(size, headCheckBytes))
	if _, err := h.r.ReadAt(h.head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, formats.IOError(0, err)
	}
	return h, nil
}

// holdCopy reads the file once into private memory.
func holdCopy(f *os.File, size int64) (*held, error) {
	mem := make([]byte, size)
	for off := int64(0); off < size; {
		n := int(min(verify.ChunkSize, size-off))
		k, err := f.ReadAt(mem[off:off+int64(n)], off)
		off += int64(k)
		if err != nil && !(errors.Is(err, io.EOF) && off == size) {
			return nil, formats.IOError(off, err)
		}
	}
	return &held{r: bytes.NewReader(mem), mem: mem, size: size}, nil
}

// errChanged is what reads through a file return once another process
// has asked to write it.
var errChanged = errors.New("another process opened the file for writing after it was verified; its bytes are no longer the verified ones")

// guarded reads a leased file. Once the lease breaks it reads the private
// copy the mapping became (map mode), or fails (read-at mode). A read that
// overlaps the break is redone: the writer waits until the lease is
// released, which happens after Broken turns true.
type guarded struct {
	f   *os.File
	l   interface{ Broken() bool }
	mem []byte
}

func (g *guarded) ReadAt(p []byte, off int64) (int, error) {
	if !g.l.Broken() {
		n, err := g.f.ReadAt(p, off)
		if !g.l.Broken() {
			return n, err
		}
	}
	if g.mem == nil {
		return 0, formats.IOError(off, errChanged)
	}
	if off >= int64(len(g.mem)) {
		return 0, io.EOF
	}
	n := copy(p, g.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// recheck refuses a leased file that changed while it was verified: its
// size or modification time, or the bytes of its first 64 KiB (the
// header). A private copy or a rehashed file cannot change.
func (o *opener) recheck(mf *modelFile, h *held) error {
	if h.head == nil {
		return nil
	}
	changed := func(why string) error {
		return formats.WithPath(formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "file changed while it was verified (%s)", why), mf.name)
	}
	st, err := mf.f.Stat()
	if err != nil {
		return formats.WithPath(formats.IOError(formats.NoOffset, err), mf.name)
	}
	if st.Size() != mf.st.Size() || !st.ModTime().Equal(mf.st.ModTime()) {
		return changed("size or modification time")
	}
	now := make([]byte, len(h.head))
	if _, err := mf.f.ReadAt(now, 0); err != nil && !errors.Is(err, io.EOF) {
		return formats.WithPath(formats.IOError(0, err), mf.name)
	}
	if !bytes.Equal(now, h.head) {
		return changed("header bytes")
	}
	return nil
}

// Chunks of a rehashed file: at least minChunk bytes, and at most
// maxChunks of them, so that a file's digest table is at most 2 MiB
// (32 bytes a chunk) whatever its size; a multiple of verify.ChunkSize.
const (
	minChunk  = 1 << 20
	maxChunks = 1 << 16
)

func chunkSize(size int64) int64 {
	c := (size + maxChunks - 1) / maxChunks
	c = (c + verify.ChunkSize - 1) / verify.ChunkSize * verify.ChunkSize
	return max(c, minChunk)
}

// rehashed holds a file that no lease protects by the SHA-256 of each of
// its chunks, computed in one pass when it is held. Every read reopens the
// file through the model's root, reads whole chunks and refuses any whose
// digest differs (kind digest-mismatch): a reader never sees bytes other
// than the ones hashed, and nothing of the file is kept but its digests and
// the two chunks last read (chunkCache).
type rehashed struct {
	o     *opener
	mf    *modelFile
	size  int64
	chunk int64
	sums  [][sha256.Size]byte
}

// holdRehashed reads the file once, computing its chunks' digests.
func (o *opener) holdRehashed(mf *modelFile) (*held, error) {
	size := mf.st.Size()
	f, err := o.reopen(mf)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &rehashed{o: o, mf: mf, size: size, chunk: chunkSize(size)}
	r.sums = make([][sha256.Size]byte, 0, (size+r.chunk-1)/r.chunk)
	buf := make([]byte, min(verify.ChunkSize, size))
	h := sha256.New()
	// When digests or a signature will be checked, the file's SHA-256 is
	// taken in the same pass: hashing it later would read every chunk
	// again, checked, to hash it again.
	var whole hash.Hash
	if o.c.checks.Allowlist != nil || o.c.signatures != nil {
		whole = sha256.New()
	}
	for off := int64(0); off < size; {
		if err := o.ctx.Err(); err != nil {
			return nil, err
		}
		n := min(int64(len(buf)), size-off, r.chunk-off%r.chunk)
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return nil, formats.IOError(off, err)
		}
		h.Write(buf[:n])
		if whole != nil {
			whole.Write(buf[:n])
		}
		if off += n; off%r.chunk == 0 || off == size {
			r.sums = append(r.sums, [sha256.Size]byte(h.Sum(nil)))
			h.Reset()
		}
	}
	if whole != nil && mf.digest != nil {
		d := verify.Digest(whole.Sum(nil))
		mf.digest.SHA256 = &d
	}
	return &held{r: r, size: size}, nil
}

// ReadAt reads through the chunk cache, each chunk checked against its
// digest.
func (r *rehashed) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, formats.IOError(off, errors.New("negative offset"))
	}
	n := 0
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for n < len(p) && off < r.size {
		c := off / r.chunk
		k, err := r.o.chunks.read(r, c, p[n:], off-c*r.chunk, func(buf []byte) error {
			if f == nil {
				var err error
				if f, err = r.o.reopenForRead(r.mf); err != nil {
					return err
				}
			}
			return r.load(f, c, buf)
		})
		if err != nil {
			return n, err
		}
		n, off = n+k, off+int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// load reads chunk c into buf and checks its digest.
func (r *rehashed) load(f *os.File, c int64, buf []byte) error {
	at := c * r.chunk
	if _, err := f.ReadAt(buf, at); err != nil && !(errors.Is(err, io.EOF) && at+int64(len(buf)) == r.size) {
		return formats.WithPath(formats.IOError(at, err), r.mf.name)
	}
	if sha256.Sum256(buf) != r.sums[c] {
		return formats.WithPath(formats.Errorf(formats.KindDigestMismatch, at, "file changed after it was verified: the %d bytes at %d are not the ones hashed", len(buf), at), r.mf.name)
	}
	return nil
}

// reopenForRead opens a rehashed file again: its bytes are checked chunk
// by chunk, so only its size must be the same.
func (o *opener) reopenForRead(mf *modelFile) (*os.File, error) {
	f, st, err := o.openRegular(mf.name)
	if err != nil {
		return nil, err
	}
	if st.Size() != mf.st.Size() {
		f.Close()
		return nil, formats.WithPath(formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "file changed after it was verified (its size is now %d)", st.Size()), mf.name)
	}
	return f, nil
}

// chunkCache keeps the chunks of rehashed files last read, so that
// small reads in sequence (a parser's, io.Copy's) check each chunk once.
// It is shared by the files of one model: its memory is two chunks.
type chunkCache struct {
	mu    sync.Mutex
	slots [2]struct {
		r   *rehashed
		c   int64
		buf []byte
	}
	next int
}

// read copies chunk c of r, from byte at on, into p, loading the chunk
// with load (into a buffer of its length) when it is not cached.
func (cc *chunkCache) read(r *rehashed, c int64, p []byte, at int64, load func([]byte) error) (int, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for i := range cc.slots {
		if s := &cc.slots[i]; s.r == r && s.c == c {
			return copy(p, s.buf[at:]), nil
		}
	}
	s := &cc.slots[cc.next]
	cc.next = (cc.next + 1) % len(cc.slots)
	n := int(min(r.chunk, r.size-c*r.chunk))
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	s.r, s.buf = nil, s.buf[:n]
	if err := load(s.buf); err != nil {
		return 0, err
	}
	s.r, s.c = r, c
	return copy(p, s.buf[at:]), nil
}
