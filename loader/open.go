package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/mmap"
	"github.com/modelgate/modelgate/verify"
)

// Open verifies and parses the model at path (a file or a directory) and
// returns its tensors. Every file is opened through an os.Root on the
// model's directory (or WithRoot), so neither a name in a sharded index
// nor a symbolic link can reach outside it (kind path-traversal).
//
// For each weight file Open hashes it when a digest is needed (an
// allowlist, a policy's digests, a signature), checks the digest, then
// parses the same bytes it hashed (see Mode), applies the policy's formats
// and the runtime profile, and finally re-checks that the file did not
// change meanwhile.
//
// A directory is loaded as a sharded checkpoint when it holds one
// *.safetensors.index.json (every shard must exist, every tensor must be
// in its shard and nowhere else), else as every safetensors, npy and npz
// file in it (tensor names must be unique). Other files follow Scan's
// rule: text, empty and tokenizer files are ignored and listed in
// Verified.Ignored; a pickle, or unknown binary content, refuses the whole
// directory, since another program could load it.
func Open(ctx context.Context, path string, opts ...Option) (m *Model, err error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	o, err := newOpener(ctx, path, c)
	if err != nil {
		return nil, err
	}
	defer o.root.Close()
	model := &Model{Path: path, byName: map[string]int{}, Verified: Verified{Mode: c.modeName()}}
	defer func() {
		if err != nil {
			model.Close()
			c.log.Warn("model refused", "path", path, "kind", formats.KindOf(err), "error", err)
		}
	}()
	m = model
	if c.profile == ProfileMLX {
		m.Verified.Profile = "mlx"
	}
	if err := o.load(m); err != nil {
		return nil, err
	}
	if err := o.verifySignature(m); err != nil {
		return nil, err
	}
	c.log.Debug("model verified", "path", path, "files", len(m.Files), "tensors", len(m.Tensors))
	return m, nil
}

func newConfig(opts []Option) (*config, error) {
	c := &config{log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if p := c.policy; p != nil {
		c.limits = p.FormatLimits()
		if p.Allowlist().Len() > 0 || p.Requires(verify.RequireDigest) {
			c.allowlist, c.requireDig = p.Allowlist(), c.requireDig || p.Requires(verify.RequireDigest)
		}
		if p.Requires(verify.RequireSignature) && c.signatures == nil {
			return nil, formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset,
				"the policy requires a signature, but no signature verifier was given")
		}
	}
	if c.mode == ModeMap && !mmap.Supported {
		c.mode = ModeReadAt
	}
	c.limits = c.limits.WithDefaults()
	return c, nil
}

func (c *config) modeName() string {
	return [...]string{"map", "read-at", "private-copy"}[c.mode]
}

// opener holds the state of one Open.
type opener struct {
	ctx    context.Context
	c      *config
	root   *os.Root
	prefix string // the model directory, relative to the root ("." for itself)
	single string // the file's name, for a single-file model
	dir    string // the model directory as given
}

func newOpener(ctx context.Context, p string, c *config) (*opener, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), p)
	}
	o := &opener{ctx: ctx, c: c, dir: p}
	if !st.IsDir() {
		o.dir, o.single = filepath.Dir(p), filepath.Base(p)
	}
	rootDir := c.root
	if rootDir == "" {
		rootDir = o.dir
	}
	absRoot, err1 := filepath.Abs(rootDir)
	absDir, err2 := filepath.Abs(o.dir)
	rel, err3 := filepath.Rel(absRoot, absDir)
	if err := errors.Join(err1, err2, err3); err != nil || !(rel == "." || filepath.IsLocal(rel)) {
		return nil, formats.WithPath(formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "the model is not inside the root %s", rootDir), p)
	}
	o.prefix = filepath.ToSlash(rel)
	if o.root, err = os.OpenRoot(rootDir); err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), rootDir)
	}
	return o, nil
}

// rootName turns a name relative to the model directory into one relative
// to the root.
func (o *opener) rootName(name string) string { return path.Join(o.prefix, name) }

// openErr classifies an error from os.Root: leaving the root is
// path-traversal, anything else I/O.
func openErr(err error, name string) error {
	kind := formats.KindIO
	if strings.Contains(err.Error(), "path escapes") || errors.Is(err, os.ErrInvalid) {
		kind = formats.KindPathTraversal
	}
	return formats.WithPath(formats.Errorf(kind, formats.NoOffset, "%w", err), name)
}

func (o *opener) load(m *Model) error {
	if o.single != "" {
		return o.loadFiles(m, []string{o.single}, nil)
	}
	names, err := o.listDir()
	if err != nil {
		return err
	}
	var index []string
	for _, n := range names {
		if strings.HasSuffix(n, ".safetensors.index.json") {
			index = append(index, n)
		}
	}
	switch len(index) {
	case 0:
		return o.loadFiles(m, names, nil)
	case 1:
		return o.loadSharded(m, names, index[0])
	}
	return formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%d sharded-checkpoint indexes (%s); keep one", len(index), strings.Join(index, ", ")), o.dir)
}

// listDir lists the regular files and links below the model directory,
// sorted, skipping version-control directories.
func (o *opener) listDir() ([]string, error) {
	var names []string
	err := fs.WalkDir(o.root.FS(), o.rootName("."), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return openErr(err, p)
		}
		if d.IsDir() {
			if skippedDirs[d.Name()] {
				return fs.SkipDir
			}
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, o.prefix), "/")
		if o.prefix == "." {
			rel = p
		}
		names = append(names, rel)
		return nil
	})
	slices.Sort(names)
	return names, err
}

// loadFiles loads every weight file among names (all of them when want is
// nil, else those want names) and applies the ignore rule to the others.
func (o *opener) loadFiles(m *Model, names []string, want map[string]bool) error {
	for _, name := range names {
		if err := o.ctx.Err(); err != nil {
			return err
		}
		mf, why, err := o.loadFile(m, name, want == nil || want[name])
		if err != nil {
			return err
		}
		if mf == nil {
			m.Verified.Ignored = append(m.Verified.Ignored, name+": "+why)
			continue
		}
		if err := m.addFile(mf); err != nil {
			return err
		}
	}
	if len(m.Files) == 0 {
		return formats.WithPath(formats.Errorf(formats.KindUnknownFormat, formats.NoOffset, "no safetensors, npy or npz file to load"), o.dir)
	}
	return nil
}

func (m *Model) addFile(mf *ModelFile) error {
	for _, t := range mf.parsed.Tensors {
		name := t.Name
		if _, dup := m.byName[name]; dup {
			return formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "tensor %q is also in %s", name, m.Tensors[m.byName[name]].File), mf.Name)
		}
		m.byName[name] = len(m.Tensors)
		m.Tensors = append(m.Tensors, ModelTensor{Tensor: t, File: mf.Name})
	}
	m.Files = append(m.Files, mf)
	return nil
}

// loadFile opens, hashes, checks and parses one file. It returns nil and
// a reason for a file that is ignored, or that is a weight file not
// wanted (a file the index does not name).
func (o *opener) loadFile(m *Model, name string, wanted bool) (*ModelFile, string, error) {
	f, err := o.root.Open(o.rootName(name))
	if err != nil {
		return nil, "", openErr(err, name)
	}
	m.closers = append(m.closers, f.Close)
	st, err := f.Stat()
	if err != nil {
		return nil, "", formats.WithPath(formats.IOError(formats.NoOffset, err), name)
	}
	if !st.Mode().IsRegular() {
		return nil, "not a regular file", nil
	}
	if o.c.policy != nil {
		if err := o.c.policy.CheckFileSize(name, st.Size()); err != nil {
			return nil, "", err
		}
	}
	h, err := o.hold(m, f, st.Size())
	if err != nil {
		return nil, "", formats.WithPath(err, name)
	}
	if testHookAfterHold != nil {
		testHookAfterHold(name)
	}
	parsed, format, perr := parse(h.r, h.size, h.mem, o.c.limits)
	if perr != nil {
		if formats.KindOf(perr) == formats.KindUnknownFormat && o.single == "" {
			if why := ignorable(h.r, h.size, name); why != "" {
				return nil, why, nil
			}
		}
		return nil, "", formats.WithPath(perr, name)
	}
	if !wanted {
		return nil, "a " + string(format) + " file the index does not name", nil
	}
	if o.c.mode == ModeMap && h.mem != nil {
		parsed.file = f
	}
	mf := &ModelFile{Name: name, Size: h.size, Format: format, Metadata: parsed.Metadata, parsed: parsed}
	if err := o.check(m, mf, h); err != nil {
		return nil, "", formats.WithPath(err, name)
	}
	return mf, "", o.recheck(f, st, h, name)
}

// check applies the digest allowlist, the policy's formats and the
// runtime profile to a parsed file.
func (o *opener) check(m *Model, mf *ModelFile, h *held) error {
	if h.digest != nil {
		mf.SHA256 = h.digest
		m.Verified.Digests = append(m.Verified.Digests, verify.FileDigest{Name: mf.Name, Size: mf.Size, SHA256: *h.digest})
	}
	if a := o.c.allowlist; a != nil {
		err := a.Check(mf.Name, *h.digest)
		if err != nil && (o.c.requireDig || formats.KindOf(err) == formats.KindDigestMismatch) {
			return err
		}
		// Allowlisted holds while every file so far was approved.
		m.Verified.Allowlisted = err == nil && (len(m.Files) == 0 || m.Verified.Allowlisted)
	}
	if o.c.policy != nil && !o.c.policy.AllowsFormat(mf.Format) {
		return formats.Errorf(formats.KindUnsupported, formats.NoOffset, "the policy does not allow %s files", mf.Format)
	}
	if o.c.profile == ProfileMLX {
		return CheckMLX(mf.parsed, o.c.allowRawFP8)
	}
	return nil
}

// testHookAfterHold lets tests change a file between hashing and the
// final re-check.
var testHookAfterHold func(name string)

// held is how one file's bytes are held while it is verified and used.
type held struct {
	r      io.ReaderAt
	mem    []byte
	size   int64
	digest *verify.Digest
	head   []byte // a copy of the first bytes, to re-check at the end
}

const headCheckBytes = 64 << 10

// hold maps, copies or wraps the file per the mode, and hashes it when a
// digest is needed, from the bytes that will be parsed.
func (o *opener) hold(m *Model, f *os.File, size int64) (*held, error) {
	h := &held{r: f, size: size}
	needDigest := o.c.allowlist != nil || o.c.signatures != nil
	switch o.c.mode {
	case ModeMap:
		mem, unmap, merr := mmap.Map(f, size)
		if merr != nil {
			return nil, formats.IOError(formats.NoOffset, merr)
		}
		m.closers = append(m.closers, unmap)
		h.mem = mem // parsed and handed out; h.r stays the file, for reads
	case ModePrivateCopy:
		return o.holdCopy(f, size, needDigest)
	}
	if needDigest {
		// Hashing reads the file through the page cache the shared mapping
		// also shows, in 1 MiB reads: the same bytes, without every page of
		// the file counting towards the process's RSS.
		d, err := verify.Hash(o.ctx, f, size, nil)
		if err != nil {
			return nil, err
		}
		h.digest = &d
	}
	h.head = make([]byte, min(size, headCheckBytes))
	if _, err := h.r.ReadAt(h.head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, formats.IOError(0, err)
	}
	return h, nil
}

// holdCopy reads the file once into private memory, hashing as it goes.
func (o *opener) holdCopy(f *os.File, size int64, needDigest bool) (*held, error) {
	mem := make([]byte, size)
	for off := int64(0); off < size; {
		n := int(min(verify.ChunkSize, size-off))
		k, err := f.ReadAt(mem[off:off+int64(n)], off)
		off += int64(k)
		if err != nil && !(errors.Is(err, io.EOF) && off == size) {
			return nil, formats.IOError(off, err)
		}
	}
	h := &held{r: bytes.NewReader(mem), mem: mem, size: size}
	if needDigest {
		d, err := verify.HashBytes(o.ctx, mem, nil)
		if err != nil {
			return nil, err
		}
		h.digest = &d
	}
	return h, nil
}

// recheck refuses a file that changed while it was verified: its size or
// modification time, or the bytes of its first 64 KiB (the header).
func (o *opener) recheck(f *os.File, before os.FileInfo, h *held, name string) error {
	if o.c.mode == ModePrivateCopy {
		return nil // what was verified is a private copy
	}
	changed := func(why string) error {
		return formats.WithPath(formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "file changed while it was verified (%s)", why), name)
	}
	st, err := f.Stat()
	if err != nil {
		return formats.WithPath(formats.IOError(formats.NoOffset, err), name)
	}
	if st.Size() != before.Size() || !st.ModTime().Equal(before.ModTime()) {
		return changed("size or modification time")
	}
	now := make([]byte, len(h.head))
	if _, err := f.ReadAt(now, 0); err != nil && !errors.Is(err, io.EOF) {
		return formats.WithPath(formats.IOError(0, err), name)
	}
	if !bytes.Equal(now, h.head) {
		return changed("header bytes")
	}
	return nil
}

// verifySignature hands every file's digest to the signature verifier:
// the loaded files' digests, and the other files of the directory hashed
// now (a signature covers the whole model).
func (o *opener) verifySignature(m *Model) error {
	if o.c.signatures == nil {
		return nil
	}
	md := &verify.ModelDigests{Root: o.dir, Single: o.single != ""}
	if md.Single {
		md.Root = filepath.Join(o.dir, o.single)
		md.Files = slices.Clone(m.Verified.Digests)
	} else {
		sub, err := o.root.OpenRoot(o.prefix)
		if err != nil {
			return openErr(err, o.dir)
		}
		defer sub.Close()
		known := map[string]verify.FileDigest{}
		for _, d := range m.Verified.Digests {
			known[d.Name] = d
		}
		rest, err := verify.HashTree(o.ctx, sub, func(n string) bool { _, ok := known[n]; return ok }, nil)
		if err != nil {
			return err
		}
		md.Files = append(slices.Clone(m.Verified.Digests), rest...)
		slices.SortFunc(md.Files, func(a, b verify.FileDigest) int { return strings.Compare(a.Name, b.Name) })
	}
	signer, err := o.c.signatures.VerifyModel(o.ctx, md)
	if err != nil {
		return err
	}
	m.Verified.Signer = signer
	return nil
}

// String describes the model briefly.
func (m *Model) String() string {
	return fmt.Sprintf("%s: %d files, %d tensors", m.Path, len(m.Files), len(m.Tensors))
}
