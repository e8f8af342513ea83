package verify

import (
	"bytes"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/regular"
)

// MaxDigestFileBytes caps a checksum file: a line per file of a model.
const MaxDigestFileBytes = 16 << 20

// DigestFile is a checksum file as "sha256sum -c" and "b3sum -c" read it,
// the one reading of the CLI's --sha256-file and --blake3-file and of a
// policy's digest_files and blake3_files:
//
//   - lines as ParseSums reads them, untagged ones by the algorithm the
//     caller chose (never guessed from the file's name: a sha256sum file
//     named bloom-1b3.sha256 is SHA-256);
//   - names relative to the file's own directory (or absolute), as the
//     checkers read them where the file lies; For rebases them onto the
//     model and drops the ones outside it;
//   - a Git LFS pointer (a clone made without git lfs pull holds one in
//     place of each weight file) approves its oid, a SHA-256, under any
//     name: it states one file's content, and where that file now lies
//     is the caller's to say;
//   - a file that approves nothing, or none of whose names lie in the
//     model, is a configuration error (kind usage).
type DigestFile struct {
	Path    string
	dir     string // absolute directory of the file
	entries []Entry
	pointer bool
}

// ReadDigestFile reads a checksum file whose untagged lines are digests by
// a (SHA256 or BLAKE3), or a Git LFS pointer.
func ReadDigestFile(path string, a Algorithm) (*DigestFile, error) {
	if a != SHA256 && a != BLAKE3 {
		return nil, formats.WithPath(formats.Errorf(formats.KindUsage, formats.NoOffset, "a checksum file holds sha256 or blake3 digests, not %s", a), path)
	}
	b, err := regular.ReadCapped(path, MaxDigestFileBytes)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxDigestFileBytes {
		return nil, formats.WithPath(formats.Exceeded(formats.NoOffset, "checksum file size", int64(len(b)), "MaxDigestFileBytes", MaxDigestFileBytes), path)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	df := &DigestFile{Path: path, dir: dir}
	if bytes.HasPrefix(b, []byte("version https://git-lfs.github.com/spec/v1\n")) {
		d, _, err := ParseLFSPointer(bytes.NewReader(b))
		if err != nil {
			return nil, formats.WithPath(err, path)
		}
		df.entries, df.pointer = []Entry{NewEntry("", SHA256, d)}, true
		return df, nil
	}
	if df.entries, err = ParseSums(bytes.NewReader(b), a); err != nil {
		return nil, formats.WithPath(err, path)
	}
	if len(df.entries) == 0 {
		return nil, formats.WithPath(formats.Errorf(formats.KindUsage, formats.NoOffset, "the checksum file approves nothing"), path)
	}
	for _, e := range df.entries {
		if e.Name == "" {
			return nil, formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "a line names no file"), path)
		}
	}
	return df, nil
}

// Len is how many digests the file approves.
func (df *DigestFile) Len() int { return len(df.entries) }

// Algorithms lists the algorithms of its digests.
func (df *DigestFile) Algorithms() []Algorithm {
	a, err := NewAllowlist(df.entries...)
	if err != nil {
		return nil
	}
	return a.Algorithms()
}

// For returns the file's entries named relative to the model directory
// dir (a single file's directory), dropping those outside it; a file none
// of whose names lies in it is refused (kind usage).
func (df *DigestFile) For(dir string) ([]Entry, error) {
	if df.pointer {
		return df.entries, nil
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), dir)
	}
	var out []Entry
	for _, e := range df.entries {
		full := filepath.FromSlash(e.Name)
		if !filepath.IsAbs(full) {
			full = filepath.Join(df.dir, full)
		}
		if rel, err := filepath.Rel(absDir, full); err == nil && filepath.IsLocal(rel) {
			e.Name = filepath.ToSlash(rel)
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, formats.WithPath(formats.Errorf(formats.KindUsage, formats.NoOffset,
			"none of its %d names lies in %s; they are read relative to %s, as sha256sum -c run there reads them", len(df.entries), dir, df.dir), df.Path)
	}
	return out, nil
}

// absPath is the file's absolute path: verification material, not part of
// a model it lies in.
func (df *DigestFile) absPath() string {
	return filepath.Join(df.dir, filepath.Base(df.Path))
}

// allowlistFor is the allowlist of inline entries and digest files for
// the model directory dir; digests that contradict each other are a
// configuration error (kind usage).
func allowlistFor(dir string, inline []Entry, files []*DigestFile) (*Allowlist, error) {
	entries := append([]Entry{}, inline...)
	for _, df := range files {
		e, err := df.For(dir)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e...)
	}
	a, err := NewAllowlist(entries...)
	if err != nil {
		return nil, formats.Errorf(formats.KindUsage, formats.NoOffset, "the digests given contradict each other: %s", strings.TrimPrefix(err.Error(), "malformed: "))
	}
	return a, nil
}
