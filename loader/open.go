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
//     load unless the checks allow it (kind code); every file is
//     identified, and the most severe refusal is returned
//     (formats.KindsBySeverity), with a *SeveralFormatsError when weights
//     that load sit beside files refused for their format;
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
	m = &Model{Path: path, byName: map[string]int{}, Verified: Verified{Mode: c.mode.String()}}
	m.addCloser(o.root.Close) // files no lease protects are reopened through it (rehashed)
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

	kept   int         // files kept open under a lease (at most maxHeldFiles)
	chunks *chunkCache // the chunks of rehashed files last read
	tree   *modeltree.Model
}

// confine lists the model (internal/modeltree: the one reading of which
// files make up a model) and opens the root its files are opened through.
func confine(ctx context.Context, p string, c *config) (*opener, error) {
	tree, err := modeltree.List(p, modeltree.Options{Revision: c.revision, Root: c.root})
	if err != nil {
		return nil, err
	}
	o := &opener{ctx: ctx, c: c, dir: tree.Dir, single: tree.Single, prefix: tree.Prefix, cache: tree.Cache, tree: tree, chunks: &chunkCache{}}
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
	name   string
	f      *os.File
	st     os.FileInfo
	lease  *lease.Lease // nil when none was taken; f is then closed after identification
	id     content.Identity
	h      *held              // weights: the bytes parsed and handed out
	digest *verify.FileDigest // its digests, once verification computed them
	blob   string             // in a cache snapshot, the blob the file links to
}

// identify lists, opens and identifies every file of the model (stage 2).
func (o *opener) identify(m *Model) ([]*modelFile, error) {
	if err := o.tree.Err(); err != nil {
		return nil, err
	}
	var files []*modelFile
	var code, loads, refusedNames []string
	var refused []error // every file's content is identified, so that the worst refusal is reported
	for _, tf := range o.tree.Files {
		if err := o.ctx.Err(); err != nil {
			return nil, err
		}
		name := tf.Name
		mf, err := o.openFile(name)
		var id content.Identity
		if err == nil {
			mf.blob = tf.Blob
			if id, err = content.Identify(mf.f, mf.st.Size(), name, o.c.checks.Limits); err != nil {
				mf.close()
			}
		}
		if err != nil {
			refused, refusedNames = append(refused, formats.WithPath(err, name)), append(refusedNames, name)
			continue
		}
		mf.id = id
		o.keepOrClose(m, mf)
		switch why := id.Code(o.c.checks.ChatTemplates); {
		case why != "":
			code = append(code, name+" ("+why+")")
		case id.Role == content.Weights:
			loads = append(loads, name)
		case o.single != "":
			return nil, formats.WithPath(formats.Errorf(formats.KindUnknownFormat, formats.NoOffset, "content is not a recognised model format (%s)", id.Why), name)
		}
		files = append(files, mf)
	}
	if len(refused) > 0 {
		return nil, refuseIdentified(loads, refused, refusedNames)
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
// open) and refuses it unless it is a regular file. The caller closes it
// (modelFile.close) or keeps it (keepOrClose).
func (o *opener) openFile(name string) (*modelFile, error) {
	f, st, err := o.openRegular(name)
	if err != nil {
		return nil, err
	}
	mf := &modelFile{name: name, f: f, st: st}
	if err := o.checkFile(mf); err != nil {
		f.Close()
		return nil, err
	}
	// The lease is taken before anything is read, so that what is
	// identified, hashed, parsed and handed out are the same bytes.
	if o.c.mode != ModePrivateCopy && o.kept < maxHeldFiles {
		mf.lease, _ = takeLease(f) // without one the file is rehashed (hold)
	}
	return mf, nil
}

// openRegular opens name, below the model directory, refusing anything
// but a regular file.
func (o *opener) openRegular(name string) (*os.File, os.FileInfo, error) {
	f, st, err := regular.OpenIn(o.root, o.rootName(name))
	if errors.Is(err, regular.ErrNotRegular) {
		return nil, nil, formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%w", err), name)
	} else if err != nil {
		return nil, nil, openErr(err, name)
	}
	return f, st, nil
}

// checkFile refuses a file with other hard links (WithoutHardLinks) or
// over max_file_bytes (a cache snapshot's links were checked by the
// walker, internal/modeltree).
func (o *opener) checkFile(mf *modelFile) error {
	st, name := mf.st, mf.name
	if o.c.singleLink && regular.Links(st) > 1 {
		return formats.WithPath(formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "the file has %d hard links; one may name a file outside the root, which os.Root cannot see", regular.Links(st)), name)
	}
	if max := o.c.checks.MaxFileBytes; max > 0 && st.Size() > max {
		return formats.WithPath(formats.Exceeded(formats.NoOffset, "file size", st.Size(), "max_file_bytes", max), name)
	}
	return nil
}

// verify holds each weight file's bytes as the mode says, and checks the
// model's digests and signature over them (stage 3). Files are hashed
// with the algorithms the allowlist's digests use, and for a signature
// as its manifest says (verify.ModelDigests.Sum), always from the held
// bytes: what is hashed is what is parsed and handed out.
func (o *opener) verify(m *Model, files []*modelFile) error {
	a, sv := o.c.checks.Allowlist, o.c.signatures
	digests := make([]verify.FileDigest, len(files))
	byName := make(map[string]*modelFile, len(files))
	for i, mf := range files {
		byName[mf.name] = mf
		digests[i] = verify.FileDigest{Name: mf.name, Size: mf.st.Size(), Inert: mf.id.Role == content.Inert}
		mf.digest = &digests[i]
	}
	err := workpool.Run(o.ctx, len(files), func(i int) error {
		mf := files[i]
		if !parsed(mf.id.Role) {
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
	md.Open = func(i int) (io.ReaderAt, func(), error) { return o.hashed(byName[md.Files[i].Name]) }
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
		// A directory of inert files only (a tokenizer repository, a
		// signed checksum list) loads nothing that runs or misreads: once
		// digests or a signature cover every file, it is accepted, with no
		// tensors, as model_signing accepts it. Unapproved, there is
		// nothing to vouch for.
		if o.single == "" && (m.Verified.Allowlisted || m.Verified.Signer != "") {
			return nil
		}
		return formats.WithPath(formats.Errorf(formats.KindUnknownFormat, formats.NoOffset, "no safetensors, npy, npz or GGUF file to load (a directory of inert files only is accepted when digests or a signature cover it)"), o.dir)
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
		if o.c.mode == ModeMap && mf.h.mem != nil {
			parsed.file = mf.h.r // reads through the leased file (see guarded)
		}
		parsed.verified = mf.h.r
		parsed.nameNpy(mf.name)
		if _, ok := mf.h.r.(*rehashed); ok {
			m.Verified.Rehashed = append(m.Verified.Rehashed, mf.name)
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
			if err := o.recheck(mf, mf.h); err != nil {
				return err
			}
		}
	}
	return nil
}

// takeLease is lease.Take; tests replace it to take the path of a user
// who does not own the files.
var takeLease = lease.Take

// testHookParse lets tests see when a weight file is parsed.
var testHookParse func(name string)

// testHookAfterHold lets tests change a file between hashing and the
// final re-check.
var testHookAfterHold func(name string)

// String describes the model briefly.
func (m *Model) String() string {
	return fmt.Sprintf("%s: %d files, %d tensors", m.Path, len(m.Files), len(m.Tensors))
}
