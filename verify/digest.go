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
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/regular"
	"github.com/modelgate/modelgate/internal/workpool"
)

// Digest is a 32-byte digest: SHA-256 or BLAKE3 (an Entry or FileDigest
// says which).
type Digest [sha256.Size]byte

// String returns the digest in lowercase hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText encodes the digest as lowercase hex.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ParseDigest parses 64 hex digits (either case): a SHA-256 or BLAKE3
// digest.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*sha256.Size {
		return d, formats.Errorf(formats.KindMalformed, formats.NoOffset, "digest %q is not 64 hex digits", s)
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, formats.Errorf(formats.KindMalformed, formats.NoOffset, "digest %q is not 64 hex digits", s)
	}
	return d, nil
}

// ChunkSize is how much Hash reads at a time: large enough that system
// calls cost nothing next to hashing, small enough to stay in a core's L2
// cache between the copy and the hash. Measured verifying a 2 GiB model
// under a 1 GB shards manifest on 2 cores (7 interleaved runs, medians):
// 64 KiB 1.00 s, 128 KiB 0.90 s, 256 KiB 0.91 s, 4 MiB 1.08 s; one
// SHA-256 stream is within noise from 128 KiB to 4 MiB.
const ChunkSize = 256 << 10

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

// Hash returns the SHA-256 of the size bytes of r (SHA256.Sum, as a
// Digest), reading in ChunkSize reads and checking ctx between them.
// progress may be nil (see ContextWithProgress).
func Hash(ctx context.Context, r io.ReaderAt, size int64, progress Progress) (Digest, error) {
	b, err := SHA256.Sum(ctx, r, size, progress)
	if err != nil {
		return Digest{}, err
	}
	return Digest(b), nil
}

// FileDigest is one file of a tree and the digests computed of it so
// far: a check computes the ones it needs (ModelDigests.Sum), so that a
// model signed with BLAKE3 is never also hashed with SHA-256.
type FileDigest struct {
	Name   string  `json:"name"` // slash-separated path below the root
	Size   int64   `json:"size"`
	SHA256 *Digest `json:"sha256,omitempty"`
	BLAKE3 *Digest `json:"blake3,omitempty"`
	// Inert is set by the loader for a file whose content is no model
	// format, code or pickle (text, empty, a tokenizer). Only an inert
	// file may be left out of a manifest by an ignore path: an exclusion
	// never covers what a loader could load or run.
	Inert bool `json:"-"`
}

// Digest returns the file's digest by a, or nil if it has not been
// computed (BLAKE2b digests are never kept).
func (f *FileDigest) Digest(a Algorithm) *Digest {
	switch a {
	case SHA256:
		return f.SHA256
	case BLAKE3:
		return f.BLAKE3
	}
	return nil
}

// keep records a computed digest, for the algorithms FileDigest holds.
func (f *FileDigest) keep(a Algorithm, b []byte) {
	if len(b) != len(Digest{}) {
		return
	}
	d := Digest(b)
	switch a {
	case SHA256:
		f.SHA256 = &d
	case BLAKE3:
		f.BLAKE3 = &d
	}
}

// HashTree lists the model at path as every command does (ListModel) and
// hashes each of its files with a, in parallel across the machine's
// cores; it returns them sorted by name, slash-separated and relative to
// the model directory, with only a's digest computed. progress may be nil
// (see ContextWithProgress).
func HashTree(ctx context.Context, path string, a Algorithm, progress Progress) ([]FileDigest, error) {
	md, err := ListModel(path)
	if err != nil {
		return nil, err
	}
	if progress != nil {
		ctx = ContextWithProgress(ctx, progress)
	}
	if err := md.SumAll(ctx, a); err != nil {
		return nil, err
	}
	return md.Files, nil
}

// SumAll computes every file's whole digest by a, in parallel, keeping
// it in Files.
func (md *ModelDigests) SumAll(ctx context.Context, a Algorithm) error {
	return SumModels(ctx, a, md)
}

// SumModels computes a's digest of every file of every model, with one
// worker per core across them all: eight single-file models hash as fast
// as one model of eight files.
func SumModels(ctx context.Context, a Algorithm, mds ...*ModelDigests) error {
	type file struct {
		md *ModelDigests
		i  int
	}
	var files []file
	for _, md := range mds {
		for i := range md.Files {
			files = append(files, file{md, i})
		}
	}
	return workpool.Run(ctx, len(files), func(k int) error {
		f := files[k]
		_, err := f.md.Sum(ctx, f.i, a, 0, f.md.Files[f.i].Size)
		return err
	})
}

// HashFiles hashes the files at paths (named as given) with a, in
// parallel, in the order given. Only regular files are hashed: a FIFO or
// device is refused (kind unsupported), not read.
func HashFiles(ctx context.Context, a Algorithm, paths []string, progress Progress) ([]FileDigest, error) {
	return hashAll(ctx, a, paths, regular.Open, progress)
}

// hashAll hashes the named files with one worker per core (BLAKE3 then
// also splits each file across the cores).
func hashAll(ctx context.Context, a Algorithm, names []string, open func(string) (*os.File, os.FileInfo, error), progress Progress) ([]FileDigest, error) {
	out := make([]FileDigest, len(names))
	err := workpool.Run(ctx, len(names), func(i int) (err error) {
		out[i], err = hashName(ctx, a, open, names[i], progress)
		return err
	})
	return out, err
}

func hashName(ctx context.Context, a Algorithm, open func(string) (*os.File, os.FileInfo, error), name string, progress Progress) (FileDigest, error) {
	f, st, err := open(name)
	if errors.Is(err, regular.ErrNotRegular) {
		return FileDigest{}, formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%w", err), name)
	} else if err != nil {
		return FileDigest{}, formats.WithPath(formats.IOError(formats.NoOffset, err), name)
	}
	defer f.Close()
	// Reads, not a mapping: a mapping would save a copy (measured: within
	// noise on this machine) but counts every page of the file in the
	// process's RSS; reads keep memory flat whatever the size.
	d, err := a.Sum(ctx, f, st.Size(), progress)
	if err != nil {
		return FileDigest{}, formats.WithPath(err, name)
	}
	fd := FileDigest{Name: name, Size: st.Size()}
	fd.keep(a, d)
	return fd, nil
}

// SumLine formats one line as GNU sha256sum (and b3sum) prints it: a name
// with a backslash or newline is escaped and the line starts with a
// backslash.
func SumLine(d Digest, name string) string {
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

// ModelDigests is a model as a signature verifier sees it: its path, its
// files, and the bytes of each, from which Sum computes the digests a
// check needs. The loader gives the bytes it holds and will hand out, so
// that what is verified is what is loaded.
type ModelDigests struct {
	Root   string // the model directory, or the file
	Single bool   // the model is one file
	Files  []FileDigest
	// Bundle is the signature file; "" looks for model.sig inside a model
	// directory (or beside it), FILE.sig or model.sig beside a file.
	Bundle string
	// Open returns the bytes of Files[i] and a function to call when done
	// with them; nil reads the file below Root.
	Open func(i int) (io.ReaderAt, func(), error)
	// Excused, when set, reports whether an inert file need not be covered
	// (the loader's exclusions): it is checked when the manifest signs it,
	// and may be unsigned or absent.
	Excused func(name string) bool
	// VCS names the version-control directories at the model's top that
	// were not entered (.git, .hg, .svn): not part of the model, they are
	// recorded in a manifest's ignore_paths so that model_signing leaves
	// them out too.
	VCS []string
}

// Sum returns the digest by a of the n bytes at off in Files[i] (the
// whole file when off is 0 and n its size, which is then kept in Files).
func (md *ModelDigests) Sum(ctx context.Context, i int, a Algorithm, off, n int64) ([]byte, error) {
	f := &md.Files[i]
	whole := off == 0 && n == f.Size
	if d := f.Digest(a); whole && d != nil {
		return d[:], nil
	}
	r, closeFn, err := md.open(i)
	if err != nil {
		return nil, formats.WithPath(err, f.Name)
	}
	defer closeFn()
	d, err := a.Sum(ctx, io.NewSectionReader(r, off, n), n, nil)
	if err != nil {
		return nil, formats.WithPath(err, f.Name)
	}
	if whole {
		f.keep(a, d)
	}
	return d, nil
}

func (md *ModelDigests) open(i int) (io.ReaderAt, func(), error) {
	if md.Open != nil {
		return md.Open(i)
	}
	dir, rel := md.Root, md.Files[i].Name
	if md.Single {
		dir, rel = filepath.Dir(md.Root), filepath.Base(md.Root)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, formats.IOError(formats.NoOffset, err)
	}
	defer root.Close()
	f, _, err := regular.OpenIn(root, rel)
	if err != nil {
		return nil, nil, formats.IOError(formats.NoOffset, err)
	}
	return f, func() { f.Close() }, nil
}
