package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/regular"
)

// Digest is a SHA-256 digest.
type Digest [sha256.Size]byte

// String returns the digest in lowercase hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText encodes the digest as lowercase hex.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ParseDigest parses 64 hex digits (either case).
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*sha256.Size {
		return d, formats.Errorf(formats.KindMalformed, formats.NoOffset, "sha256 %q is not 64 hex digits", s)
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, formats.Errorf(formats.KindMalformed, formats.NoOffset, "sha256 %q is not 64 hex digits", s)
	}
	return d, nil
}

// ChunkSize is how much Hash reads at a time: large enough that system
// calls cost nothing next to hashing, small enough to stay in cache.
const ChunkSize = 4 << 20

// Progress is told, from time to time, how many bytes have been hashed.
// It must be safe for concurrent use when hashing trees.
type Progress func(done int64)

type progressKey struct{}

// ContextWithProgress returns ctx carrying p, to which hashing reports when
// it is given no Progress of its own: a command's progress bar through
// calls that take none (SignModel, loader.Open).
func ContextWithProgress(ctx context.Context, p Progress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

// progressOf returns p, or the Progress ctx carries.
func progressOf(ctx context.Context, p Progress) Progress {
	if p != nil {
		return p
	}
	p, _ = ctx.Value(progressKey{}).(Progress)
	return p
}

// Hash returns the SHA-256 of the size bytes of r, reading in ChunkSize
// reads and checking ctx between them. progress may be nil (see
// ContextWithProgress).
func Hash(ctx context.Context, r io.ReaderAt, size int64, progress Progress) (Digest, error) {
	progress = progressOf(ctx, progress)
	h := sha256.New()
	buf := make([]byte, min(ChunkSize, max(size, 1)))
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return Digest{}, err
		}
		n := int(min(int64(len(buf)), size-off))
		k, err := r.ReadAt(buf[:n], off)
		h.Write(buf[:k])
		off += int64(k)
		if err != nil && !(errors.Is(err, io.EOF) && off == size) {
			return Digest{}, formats.IOError(off, err)
		}
		if progress != nil {
			progress(int64(k))
		}
	}
	var d Digest
	h.Sum(d[:0])
	return d, nil
}

// HashBytes returns the SHA-256 of b (a mapping, say), reporting progress
// every ChunkSize bytes.
func HashBytes(ctx context.Context, b []byte, progress Progress) (Digest, error) {
	progress = progressOf(ctx, progress)
	h := sha256.New()
	for len(b) > 0 {
		if err := ctx.Err(); err != nil {
			return Digest{}, err
		}
		n := min(len(b), ChunkSize)
		h.Write(b[:n])
		b = b[n:]
		if progress != nil {
			progress(int64(n))
		}
	}
	var d Digest
	h.Sum(d[:0])
	return d, nil
}

// FileDigest is the digest of one file of a tree.
type FileDigest struct {
	Name   string `json:"name"` // slash-separated path below the root
	Size   int64  `json:"size"`
	SHA256 Digest `json:"sha256"`
	// Inert is set by the loader for a file whose content is no model
	// format, code or pickle (text, empty, a tokenizer). Only an inert
	// file may be left out of a manifest by an ignore path: an exclusion
	// never covers what a loader could load or run.
	Inert bool `json:"-"`
}

// HashTree hashes every regular file below root, in parallel across the
// machine's cores, and returns them sorted by name. Names are
// slash-separated and relative to root; exclude (may be nil) drops names
// before they are read. Symbolic links are refused (kind path-traversal):
// a tree's digest must not depend on what lies outside it.
func HashTree(ctx context.Context, root *os.Root, exclude func(name string) bool, progress Progress) ([]FileDigest, error) {
	var names []string
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return formats.WithPath(formats.IOError(formats.NoOffset, err), p)
		case exclude != nil && p != "." && exclude(p):
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			return formats.WithPath(formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "symbolic link in a model tree"), p)
		case d.Type().IsRegular():
			names = append(names, p)
		case !d.IsDir():
			return formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "not a regular file"), p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return hashNames(ctx, root, names, progress)
}

// HashFiles hashes the files at paths (named as given) in parallel, one
// worker per core, in the order given. Only regular files are hashed: a
// FIFO or device is refused (kind unsupported), not read.
func HashFiles(ctx context.Context, paths []string, progress Progress) ([]FileDigest, error) {
	return hashAll(ctx, paths, regular.Open, progress)
}

// hashNames hashes the named files below root with one worker per core.
func hashNames(ctx context.Context, root *os.Root, names []string, progress Progress) ([]FileDigest, error) {
	return hashAll(ctx, names, func(n string) (*os.File, os.FileInfo, error) { return regular.OpenIn(root, n) }, progress)
}

func hashAll(ctx context.Context, names []string, open func(string) (*os.File, os.FileInfo, error), progress Progress) ([]FileDigest, error) {
	out := make([]FileDigest, len(names))
	errs := make([]error, len(names))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(names), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				out[i], errs[i] = hashName(ctx, open, names[i], progress)
			}
		}()
	}
	for i := range names {
		work <- i
	}
	close(work)
	wg.Wait()
	return out, errors.Join(errs...)
}

func hashName(ctx context.Context, open func(string) (*os.File, os.FileInfo, error), name string, progress Progress) (FileDigest, error) {
	f, st, err := open(name)
	if errors.Is(err, regular.ErrNotRegular) {
		return FileDigest{}, formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%w", err), name)
	} else if err != nil {
		return FileDigest{}, formats.WithPath(formats.IOError(formats.NoOffset, err), name)
	}
	defer f.Close()
	d, err := hashFile(ctx, f, st.Size(), progress)
	if err != nil {
		return FileDigest{}, formats.WithPath(err, name)
	}
	return FileDigest{Name: name, Size: st.Size(), SHA256: d}, nil
}

// hashFile hashes f with ChunkSize reads. A mapping would save a copy
// (measured: within noise on this machine) but counts every page of the
// file in the process's RSS; reads keep memory flat whatever the size.
func hashFile(ctx context.Context, f *os.File, size int64, progress Progress) (Digest, error) {
	return Hash(ctx, f, size, progress)
}

// SHA256SumLine formats one line as GNU sha256sum prints it: a name with a
// backslash or newline is escaped and the line starts with a backslash.
func SHA256SumLine(d Digest, name string) string {
	if strings.ContainsAny(name, "\\\n\r") {
		r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)
		return fmt.Sprintf("\\%s  %s\n", d, r.Replace(name))
	}
	return fmt.Sprintf("%s  %s\n", d, name)
}

// cleanName reports whether name is a clean, relative, slash-separated
// path that stays below its root.
func cleanName(name string) bool {
	return name != "" && fs.ValidPath(name) && !strings.Contains(name, `\`) && path.Clean(name) == name
}

// ModelDigests is a model as a signature verifier sees it: its path and
// the SHA-256 of every file below it (of the one file, for a single-file
// model). The loader computes it from the bytes it verifies.
type ModelDigests struct {
	Root   string // the model directory, or the file
	Single bool   // the model is one file
	Files  []FileDigest
	// Bundle is the signature file; "" looks for model.sig inside a model
	// directory (or beside it), FILE.sig or model.sig beside a file.
	Bundle string
}
