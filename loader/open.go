package loader

import (
	"bytes"
	"cmp"
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
	"github.com/modelgate/modelgate/formats/content"
	"github.com/modelgate/modelgate/internal/hfcache"
	"github.com/modelgate/modelgate/internal/lease"
	"github.com/modelgate/modelgate/internal/mmap"
	"github.com/modelgate/modelgate/internal/modeltree"
	"github.com/modelgate/modelgate/internal/regular"
	"github.com/modelgate/modelgate/internal/workpool"
	"github.com/modelgate/modelgate/verify"
)

// Open verifies and parses the model at path (a file or a directory) and
// returns its tensors. It reads top to bottom in the order of trust:
//
//  1. confine: every file is opened through an os.Root on the model's
//     directory (or WithRoot), so neither a name in a sharded index nor a
//     symbolic link can reach outside it (kind path-traversal); only
//     regular files are opened (a FIFO, socket or device refuses the
//     model, kind unsupported);
//  2. identify each file by content (formats/content): pickles and
//     unknown binaries refuse the model, and so does code that runs on
//     load unless the checks allow it (kind code);
//  3. verify everything the model holds, from the same open files:
//     under an allowlist every file must be approved, and under a
//     signature every file must be in the signed manifest; exclusions
//     only ever excuse inert files;
//  4. parse: the index and the weight files, and only now;
//  5. apply the allowed formats and the runtime profile, check the index
//     against the shards, and re-check that no file changed meanwhile.
//
// A directory is a sharded checkpoint when it holds one
// *.safetensors.index.json: every shard must exist, every tensor must be
// in its shard and nowhere else, and a weight file the index does not name
// refuses the model (loaders that glob *.safetensors would load it).
// Otherwise every safetensors, npy, npz and GGUF file in it is loaded (tensor
// names must be unique). Inert files are listed in Verified.Ignored.
// Which files make up the model is internal/modeltree's one rule
// (README, "What a model is"): version-control directories at the top
// (.git, .hg, .svn) are not part of it, links are refused except a
// Hugging Face cache snapshot's links into its blobs/, and a cache
// repository folder is the snapshot its refs/main (or WithRevision) names.
func Open(ctx context.Context, path string, opts ...Option) (m *Model, err error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	o, err := confine(ctx, path, c)
	if err != nil {
		return nil, err
	}
	defer o.root.Close()
	m = &Model{Path: path, byName: map[string]int{}, Verified: Verified{Mode: c.mode.String()}}
	if c.profile == ProfileMLX {
		m.Verified.Profile = "mlx"
	}
	defer func() {
		if err != nil {
			m.Close()
			m = nil
			c.log.Warn("model refused", "path", path, "kind", formats.KindOf(err), "error", err)
		}
	}()
	files, err := o.identify(m)
	if err != nil {
		return m, err
	}
	if err := o.verify(m, files); err != nil {
		return m, err
	}
	if err := o.parse(m, files); err != nil {
		return m, err
	}
	if err := o.check(m, files); err != nil {
		return m, err
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
	if c.mode == ModeMap && !mmap.Supported {
		c.mode = ModeReadAt
	}
	if err := c.build(); err != nil {
		return nil, err
	}
	return c, nil
}

// opener holds the state of one Open.
type opener struct {
	ctx    context.Context
	c      *config
	root   *os.Root
	prefix string // the model directory, relative to the root ("." for itself)
	single string // the file's name, for a single-file model
	dir    string // the model directory as given

	index     *shardIndex // a sharded checkpoint's index, once parsed
	indexName string
	cache     bool // the model is a Hugging Face cache snapshot (internal/hfcache)
	tree      *modeltree.Model
}

// confine lists the model (internal/modeltree: the one reading of which
// files make up a model) and opens the root its files are opened through.
func confine(ctx context.Context, p string, c *config) (*opener, error) {
	tree, err := modeltree.List(p, modeltree.Options{Revision: c.revision, Root: c.root})
	if err != nil {
		return nil, err
	}
	o := &opener{ctx: ctx, c: c, dir: tree.Dir, single: tree.Single, prefix: tree.Prefix, cache: tree.Cache, tree: tree}
	// Digest files name files relative to themselves: rebased onto this
	// model's directory (verify.DigestFile).
	if c.checks.Allowlist, err = c.checks.AllowlistFor(tree.Dir); err != nil {
		return nil, err
	}
	if o.root, err = tree.OpenRoot(); err != nil {
		return nil, err
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
	if modeltree.Escapes(err) {
		kind = formats.KindPathTraversal
	}
	return formats.WithPath(formats.Errorf(kind, formats.NoOffset, "%w", err), name)
}

// modelFile is one file of the model on its way through Open.
type modelFile struct {
	name     string
	f        *os.File
	st       os.FileInfo
	lease    *lease.Lease // nil when none could be taken (leaseErr says why)
	leaseErr error
	id       content.Identity
	h        *held              // weights: the bytes parsed and handed out
	digest   *verify.FileDigest // its digests, once verification computed them
	blob     string             // in a cache snapshot, the blob the file links to
}

// identify lists, opens and identifies every file of the model (stage 2).
func (o *opener) identify(m *Model) ([]*modelFile, error) {
	if err := o.tree.Err(); err != nil {
		return nil, err
	}
	var files []*modelFile
	var code []string
	for _, tf := range o.tree.Files {
		if err := o.ctx.Err(); err != nil {
			return nil, err
		}
		name := tf.Name
		mf, err := o.openFile(m, name)
		if err != nil {
			return nil, err
		}
		mf.blob = tf.Blob
		id, err := content.Identify(mf.f, mf.st.Size(), name, o.c.checks.Limits)
		if err != nil {
			return nil, formats.WithPath(err, name)
		}
		mf.id = id
		switch {
		case id.Role == content.Code:
			code = append(code, name+" ("+id.Why+")")
		case o.single != "" && id.Role != content.Weights:
			return nil, formats.WithPath(formats.Errorf(formats.KindUnknownFormat, formats.NoOffset, "content is not a recognised model format (%s)", id.Why), name)
		}
		files = append(files, mf)
	}
	if len(code) > 0 {
		where := cmp.Or(o.single, o.dir)
		if !o.c.checks.AllowCode || o.single != "" {
			return nil, formats.WithPath(formats.Errorf(formats.KindCode, formats.NoOffset, "the model holds code that runs on load: %s", strings.Join(code, ", ")), where)
		}
		if o.c.checks.Allowlist == nil && o.c.signatures == nil {
			return nil, formats.WithPath(formats.Errorf(formats.KindCode, formats.NoOffset, "code may load only when digests or a signature cover it, and nothing does: %s", strings.Join(code, ", ")), where)
		}
	}
	return files, nil
}

func notRegular(name string, mode fs.FileMode) error {
	return formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%w", regular.NotRegular(mode)), name)
}

// openFile opens one file without blocking (a FIFO would block a plain
// open) and refuses it unless it is a regular file.
func (o *opener) openFile(m *Model, name string) (*modelFile, error) {
	f, st, err := regular.OpenIn(o.root, o.rootName(name))
	if errors.Is(err, regular.ErrNotRegular) {
		return nil, formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%w", err), name)
	} else if err != nil {
		return nil, openErr(err, name)
	}
	m.addCloser(f.Close)
	if o.c.singleLink && regular.Links(st) > 1 {
		return nil, formats.WithPath(formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "the file has %d hard links; one may name a file outside the root, which os.Root cannot see", regular.Links(st)), name)
	}
	if max := o.c.checks.MaxFileBytes; max > 0 && st.Size() > max {
		return nil, formats.WithPath(formats.Exceeded(formats.NoOffset, "file size", st.Size(), "max_file_bytes", max), name)
	}
	mf := &modelFile{name: name, f: f, st: st}
	// The lease is taken before anything is read, so that what is
	// identified, hashed, parsed and handed out are the same bytes.
	if o.c.mode != ModePrivateCopy {
		if mf.lease, mf.leaseErr = lease.Take(f); mf.lease != nil {
			m.addCloser(mf.lease.Release)
		}
	}
	return mf, nil
}

// verify holds each weight file's bytes as the mode says, and checks the
// model's digests and signature over them (stage 3). Files are hashed
// with the algorithms the allowlist's digests use, and for a signature
// as its manifest says (verify.ModelDigests.Sum), always from the held
// bytes: what is hashed is what is parsed and handed out.
func (o *opener) verify(m *Model, files []*modelFile) error {
	a, sv := o.c.checks.Allowlist, o.c.signatures
	digests := make([]verify.FileDigest, len(files))
	readers := map[string]io.ReaderAt{}
	for i, mf := range files {
		digests[i] = verify.FileDigest{Name: mf.name, Size: mf.st.Size(), Inert: mf.id.Role == content.Inert}
		mf.digest = &digests[i]
	}
	err := workpool.Run(o.ctx, len(files), func(i int) error {
		mf := files[i]
		if mf.id.Role != content.Weights {
			return nil
		}
		var err error
		mf.h, err = o.hold(m, mf)
		return formats.WithPath(err, mf.name)
	})
	if err != nil {
		return err
	}
	for _, mf := range files {
		readers[mf.name] = mf.f
		if mf.h != nil {
			readers[mf.name] = mf.h.r
		}
		if mf.id.Role == content.Inert {
			m.Verified.Ignored = append(m.Verified.Ignored, mf.name+": "+mf.id.Why)
		}
	}
	if a == nil && sv == nil {
		return nil
	}
	md := &verify.ModelDigests{Root: o.dir, Single: o.single != "", Bundle: o.c.checks.Bundle, VCS: o.tree.VCS}
	if md.Single {
		md.Root = filepath.Join(o.dir, o.single)
	}
	md.Open = func(i int) (io.ReaderAt, func(), error) { return readers[md.Files[i].Name], func() {}, nil }
	defer func() { m.Verified.Digests = digests }()
	if a != nil {
		md.Files = digests
		algs := a.Algorithms()
		err := workpool.Run(o.ctx, len(files)*len(algs), func(k int) error {
			i, alg := k/len(algs), algs[k%len(algs)]
			_, err := md.Sum(o.ctx, i, alg, 0, digests[i].Size)
			return err
		})
		if err != nil {
			return err
		}
	}
	// Excluded inert files need not be covered: the allowlist skips them,
	// and the signature check checks them only where the manifest signs
	// them (an exclusion never means "must be absent").
	if a != nil {
		if err := o.checkAllowlist(a, digests); err != nil {
			return err
		}
		m.Verified.Allowlisted = true
	}
	if sv != nil {
		md.Files = digests
		md.Excused = o.excluded
		signer, err := sv.VerifyModel(o.ctx, md)
		if err != nil {
			return err
		}
		m.Verified.Signer = signer
	}
	return checkBlobs(m, files)
}

// checkBlobs compares each cache file hashed with SHA-256 with the
// sha256 its Git LFS blob's name states: integrity evidence that costs
// nothing once hashed.
func checkBlobs(m *Model, files []*modelFile) error {
	for _, mf := range files {
		want, ok := hfcache.LFSDigest(mf.blob)
		if !ok || mf.digest.SHA256 == nil {
			continue
		}
		if !bytes.Equal(want, mf.digest.SHA256[:]) {
			return formats.WithPath(formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "the cache blob %s does not hold the content its name states (sha256 %s)", mf.blob, mf.digest.SHA256), mf.name)
		}
		m.Verified.CacheBlobs = append(m.Verified.CacheBlobs, mf.name)
	}
	return nil
}

// checkAllowlist approves every file but excluded inert ones, and for a
// directory refuses a listed file that is missing and not excluded, as
// sha256sum -c would.
func (o *opener) checkAllowlist(a *verify.Allowlist, files []verify.FileDigest) error {
	present := map[string]bool{}
	for _, d := range files {
		present[d.Name] = true
		if d.Inert && o.excluded(d.Name) {
			continue
		}
		if err := a.Check(&d); err != nil {
			return err
		}
	}
	if o.single != "" {
		return nil
	}
	var missing []string
	for _, n := range a.Names() {
		if !present[n] && !o.excluded(n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return formats.WithPath(formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "the allowlist lists files the model does not hold: %s", strings.Join(missing, ", ")), o.dir)
	}
	return nil
}

// excluded reports whether name is covered by an exclusion pattern or is
// verification material; callers apply it to inert files only.
func (o *opener) excluded(name string) bool {
	for _, p := range o.c.checks.Exclude {
		if matchPath(p, name) {
			return true
		}
	}
	full, err := filepath.Abs(filepath.Join(o.dir, filepath.FromSlash(name)))
	return err == nil && slices.Contains(o.evidence(), full)
}

func (o *opener) evidence() []string {
	var out []string
	for _, e := range o.c.checks.Evidence {
		if a, err := filepath.Abs(e); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// matchPath reports whether pattern matches name or a directory above it.
func matchPath(pattern, name string) bool {
	pattern = strings.Trim(path.Clean(pattern), "/")
	for n := name; n != "." && n != "/" && n != ""; n = path.Dir(n) {
		if ok, _ := path.Match(pattern, n); ok {
			return true
		}
	}
	return false
}

// parse parses the index, checks the weight files against it, and parses
// the weight files from the bytes verified (stage 4).
func (o *opener) parse(m *Model, files []*modelFile) error {
	weights := map[string]*modelFile{}
	var index []*modelFile
	for _, mf := range files {
		switch mf.id.Role {
		case content.Weights:
			weights[mf.name] = mf
		case content.Index:
			index = append(index, mf)
		}
	}
	switch {
	case len(index) > 1:
		var names []string
		for _, i := range index {
			names = append(names, i.name)
		}
		return formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%d sharded-checkpoint indexes (%s); keep one", len(index), strings.Join(names, ", ")), o.dir)
	case len(index) == 1:
		if err := o.parseIndex(index[0], weights); err != nil {
			return err
		}
	}
	if len(weights) == 0 {
		return formats.WithPath(formats.Errorf(formats.KindUnknownFormat, formats.NoOffset, "no safetensors, npy or npz file to load"), o.dir)
	}
	for _, mf := range files {
		if mf.id.Role != content.Weights {
			continue
		}
		if testHookParse != nil {
			testHookParse(mf.name)
		}
		parsed, err := parseAs(mf.h, mf.id, o.c.checks.Limits)
		if err != nil {
			return formats.WithPath(err, mf.name)
		}
		if o.c.mode == ModeMap && mf.h.mem != nil && !mf.h.copied {
			parsed.file = mf.h.r // reads through the leased file (see guarded)
		}
		parsed.nameNpy(mf.name)
		if mf.h.copied {
			m.Verified.Copied = append(m.Verified.Copied, mf.name)
		}
		if err := m.addFile(&ModelFile{Name: mf.name, Size: mf.h.size, SHA256: mf.digest.SHA256, BLAKE3: mf.digest.BLAKE3, Format: parsed.Format, Metadata: parsed.Metadata, parsed: parsed}); err != nil {
			return err
		}
	}
	return nil
}

// parseAs parses verified bytes as their identity says; content that was
// unknown under a weight file's name gets that parser's diagnosis.
// parseAs parses verified bytes as their identity says (identification
// classified them already: they are not classified again); content that
// was unknown under a weight file's name gets that parser's diagnosis.
func parseAs(h *held, id content.Identity, lim formats.Limits) (*File, error) {
	f, err := parseFormat(id.Format, h.r, h.size, h.mem, lim)
	if id.Diagnose && err == nil {
		err = formats.Errorf(formats.KindUnknownFormat, formats.NoOffset, "content is not a recognised model format")
	}
	return f, err
}

func (m *Model) addFile(mf *ModelFile) error {
	m.Tensors = slices.Grow(m.Tensors, len(mf.parsed.Tensors))
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

// check applies the allowed formats and the runtime profile to every
// parsed file, and re-checks that no file changed (stage 5).
func (o *opener) check(m *Model, files []*modelFile) error {
	for _, mf := range m.Files {
		if f := o.c.checks.Formats; len(f) > 0 && !slices.Contains(f, mf.Format) {
			return formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "the policy does not allow %s files", mf.Format), mf.Name)
		}
		if o.c.profile == ProfileMLX {
			if err := CheckMLX(mf.parsed, o.c.allowRawFP8); err != nil {
				return formats.WithPath(err, mf.Name)
			}
		}
	}
	if o.index != nil {
		if err := checkIndex(m, o.index, o.indexName); err != nil {
			return err
		}
	}
	if testHookAfterHold != nil {
		for _, mf := range files {
			testHookAfterHold(mf.name)
		}
	}
	for _, mf := range files {
		if mf.h != nil {
			if err := o.recheck(mf.f, mf.st, mf.h, mf.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// testHookParse lets tests see when a weight file is parsed.
var testHookParse func(name string)

// testHookAfterHold lets tests change a file between hashing and the
// final re-check.
var testHookAfterHold func(name string)

// held is how one file's bytes are held while it is verified and used.
type held struct {
	r      io.ReaderAt // the verified bytes: the file (guarded by its lease) or the private copy
	mem    []byte      // the mapping or private copy, when in memory
	size   int64
	head   []byte // a copy of the first bytes, to re-check at the end
	copied bool   // held as a private copy
}

const headCheckBytes = 64 << 10

// hold maps, copies or wraps the file per the mode: the bytes that will be
// hashed, parsed and handed out. Map and read-at need the file's read
// lease (taken when it was opened): without one, map falls back to a
// private copy and read-at refuses the file. Hashing (verify) reads
// through h.r, in ChunkSize reads of the page cache the shared mapping also
// shows: the same bytes (the lease keeps them so), without every page of
// the file counting towards the RSS.
func (o *opener) hold(m *Model, mf *modelFile) (*held, error) {
	f, size, l := mf.f, mf.st.Size(), mf.lease
	mode := o.c.mode
	if l == nil && mode == ModeMap {
		mode = ModePrivateCopy
	}
	switch mode {
	case ModePrivateCopy:
		h, err := o.holdCopy(f, size)
		if err == nil && o.c.mode != ModePrivateCopy {
			h.copied = true
		}
		return h, err
	case ModeReadAt:
		if l == nil {
			return nil, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "read-at mode needs a read lease on the file, and none could be taken (%v): without one a writer could change the bytes after verification; use map or private-copy mode", mf.leaseErr)
		}
	}
	h := &held{r: &guarded{f: f, l: l}, size: size}
	if mode == ModeMap {
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
func (o *opener) holdCopy(f *os.File, size int64) (*held, error) {
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

// recheck refuses a file that changed while it was verified: its size or
// modification time, or the bytes of its first 64 KiB (the header).
func (o *opener) recheck(f *os.File, before os.FileInfo, h *held, name string) error {
	if o.c.mode == ModePrivateCopy || h.copied {
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

// String describes the model briefly.
func (m *Model) String() string {
	return fmt.Sprintf("%s: %d files, %d tensors", m.Path, len(m.Files), len(m.Tensors))
}
