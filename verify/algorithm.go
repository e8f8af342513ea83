package verify

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"runtime"

	"golang.org/x/crypto/blake2b"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/b3tree"
)

// Algorithm is a digest algorithm: the name model_signing gives its
// digests, which is also the key of an in-toto digest set.
type Algorithm string

// The algorithms modelgate computes. SHA256 is the default everywhere;
// BLAKE3 hashes one file on every core and is what to choose when speed
// matters (see the README); BLAKE2b (512 bits) is model_signing's
// "blake2" and is checked in signed manifests only.
const (
	SHA256  Algorithm = "sha256"
	BLAKE3  Algorithm = "blake3"
	BLAKE2b Algorithm = "blake2b"
)

// ParseAlgorithm reads an algorithm name: sha256, blake3, or blake2b
// (also spelled blake2, model_signing's configuration name for it).
func ParseAlgorithm(s string) (Algorithm, error) {
	switch s {
	case "sha256":
		return SHA256, nil
	case "blake3":
		return BLAKE3, nil
	case "blake2b", "blake2":
		return BLAKE2b, nil
	}
	return "", formats.Errorf(formats.KindUnsupported, formats.NoOffset, "digest algorithm %q; modelgate computes sha256, blake3 and blake2b", s)
}

// String returns the algorithm's name.
func (a Algorithm) String() string { return string(a) }

// Size is the length of the algorithm's digest in bytes.
func (a Algorithm) Size() int {
	if a == BLAKE2b {
		return blake2b.Size
	}
	return sha256.Size
}

// streaming returns a hash that is fed in order, one reader at a time.
func (a Algorithm) streaming() hash.Hash {
	if a == BLAKE2b {
		h, _ := blake2b.New512(nil)
		return h
	}
	return sha256.New()
}

// Sum returns the digest of the size bytes of r, checking ctx between
// reads and reporting progress (which may be nil; see
// ContextWithProgress). BLAKE3 splits the file into 512 KiB subtrees hashed
// on every core; the others read it in ChunkSize reads on one. Memory
// stays bounded whatever the size.
func (a Algorithm) Sum(ctx context.Context, r io.ReaderAt, size int64, progress Progress) ([]byte, error) {
	progress = progressOf(ctx, progress)
	if a == BLAKE3 {
		d, err := b3tree.Sum(ctx, r, size, runtime.GOMAXPROCS(0), progress)
		var re *b3tree.ReadError
		if errors.As(err, &re) {
			return nil, formats.IOError(re.Offset, re.Err)
		}
		return d[:], err
	}
	h := a.streaming()
	buf := make([]byte, min(ChunkSize, max(size, 1)))
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := int(min(int64(len(buf)), size-off))
		k, err := r.ReadAt(buf[:n], off)
		h.Write(buf[:k])
		off += int64(k)
		if err != nil && !(errors.Is(err, io.EOF) && off == size) {
			return nil, formats.IOError(off, err)
		}
		if k == 0 && err == nil {
			return nil, formats.IOError(off, io.ErrNoProgress)
		}
		if progress != nil {
			progress(int64(k))
		}
	}
	return h.Sum(nil), nil
}
