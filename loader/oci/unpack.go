package oci

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// layerForm is how a layer's bytes become files.
type layerForm int

const (
	formRaw layerForm = iota
	formTar
	formTarGzip
	formTarZstd
)

// form returns how a layer of media type mt is unpacked, refusing types
// neither modelgate nor the caller names.
func (c *config) form(mt string) (layerForm, error) {
	if !(modelPackLayer(mt) || mt == MediaTypeDockerGGUF || mt == MediaTypeDockerLicense || sigstoreBundle(mt) || c.mediaTypes[mt]) {
		return 0, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "layer media type %q is not one modelgate knows", mt)
	}
	switch {
	case strings.HasSuffix(mt, ".tar"):
		return formTar, nil
	case strings.HasSuffix(mt, ".tar+gzip"):
		return formTarGzip, nil
	case strings.HasSuffix(mt, ".tar+zstd"):
		return formTarZstd, nil
	}
	return formRaw, nil
}

// defaultBundle is the name model_signing gives its bundle.
const defaultBundle = "model.sig"

// unpacker writes layers' files under one root and remembers what each
// name is and what its bytes hash to.
type unpacker struct {
	bundles []string // files of Sigstore bundle layers
	root    *os.Root
	lim     Limits
	dirs    map[string]bool
	files   map[string]bool
	entries []verify.Entry
	total   int64 // bytes written
	count   int   // entries unpacked
}

// unpack checks the manifest's types and config, then streams each layer
// into m's directory; the unpacker returned lists every file written.
func (c *config) unpack(ctx context.Context, t target, man *ocispec.Manifest, m *Model) (*unpacker, error) {
	if err := c.knownArtifact(man); err != nil {
		return nil, err
	}
	if _, err := c.fetchSmall(ctx, t, man.Config); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(m.dir)
	if err != nil {
		return nil, formats.IOError(formats.NoOffset, err)
	}
	defer root.Close()
	u := &unpacker{root: root, lim: c.limits, dirs: map[string]bool{".": true}, files: map[string]bool{}}
	for _, l := range man.Layers {
		form, err := c.form(l.MediaType)
		if err != nil {
			return nil, err
		}
		if err := l.Digest.Validate(); err != nil {
			return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "layer digest %q: %v", l.Digest, err)
		}
		if l.Size < 0 {
			return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "layer %s has size %d", l.Digest, l.Size)
		}
		files, err := u.layer(ctx, t, l, form)
		if err != nil {
			return nil, formats.WithPath(err, "layer "+l.Digest.String())
		}
		m.Layers = append(m.Layers, Layer{MediaType: l.MediaType, Digest: l.Digest.String(), Size: l.Size, Files: files})
		if sigstoreBundle(l.MediaType) {
			u.bundles = append(u.bundles, files...)
		}
	}
	return u, nil
}

// layer streams one blob once: the digest and size are checked over every
// byte of it, including what follows a tar's end, before its files count.
func (u *unpacker) layer(ctx context.Context, t target, l ocispec.Descriptor, form layerForm) ([]string, error) {
	rc, err := t.Fetch(ctx, l)
	if err != nil {
		return nil, fetchErr(err, "fetch")
	}
	defer rc.Close()
	vr := content.NewVerifyReader(rc, l)
	var names []string
	var entries []verify.Entry
	switch form {
	case formRaw:
		name, err := rawName(l)
		if err != nil {
			return nil, err
		}
		// A SHA-256 layer's digest is the file's: the verifying reader
		// hashes the stream once, and write need not hash it again.
		sha := l.Digest.Algorithm() == digest.SHA256
		sum, err := u.write(name, vr, -1, !sha)
		if err != nil {
			return nil, err
		}
		names = []string{name}
		if sha {
			// The file is the blob: the layer's digest approves it.
			sum, err = verify.ParseDigest(l.Digest.Encoded())
			if err != nil {
				return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "layer digest %s: %v", l.Digest, err)
			}
		}
		entries = append(entries, verify.NewEntry(name, verify.SHA256, sum))
	default:
		var r io.Reader = vr
		switch form {
		case formTarGzip:
			zr, err := gzip.NewReader(vr)
			if err != nil {
				return nil, u.streamErr(vr, err)
			}
			defer zr.Close()
			r = zr
		case formTarZstd:
			zr, err := zstd.NewReader(vr, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27), zstd.WithDecoderMaxMemory(1<<28))
			if err != nil {
				return nil, u.streamErr(vr, err)
			}
			defer zr.Close()
			r = zr
		}
		if form != formTar {
			max := u.lim.MaxUnpackedBytes // the bound when the ratio's would overflow
			if l.Size <= (max-1<<20)/u.lim.MaxRatio {
				max = u.lim.MaxRatio*l.Size + 1<<20
			}
			r = &ratioReader{r: r, max: max, lim: u.lim.MaxRatio}
		}
		names, entries, err = u.tar(r)
		if err != nil {
			return nil, u.streamErr(vr, err)
		}
		if form != formTar {
			// What follows the tar's end is decompressed to the end
			// (within MaxRatio), as containerd's applier reads it: bytes
			// after the last gzip or zstd frame, or a frame that fails its
			// checksum, refuse the layer there too (malformed).
			if _, err := io.Copy(io.Discard, r); err != nil {
				return nil, u.streamErr(vr, err)
			}
		}
	}
	if _, err := io.Copy(io.Discard, vr); err != nil {
		return nil, fetchErr(err, "read")
	}
	if err := vr.Verify(); err != nil {
		return nil, fetchErr(err, "blob")
	}
	u.entries = append(u.entries, entries...)
	return names, nil
}

// streamErr reports a failure while unpacking: when the blob itself is
// not the one the manifest names, that is the refusal, not the damage it
// caused downstream.
func (u *unpacker) streamErr(vr *content.VerifyReader, err error) error {
	if _, derr := io.Copy(io.Discard, vr); derr != nil {
		return fetchErr(derr, "read")
	}
	if verr := vr.Verify(); verr != nil {
		return fetchErr(verr, "blob")
	}
	var fe *formats.Error
	if errors.As(err, &fe) {
		return err
	}
	return formats.Errorf(formats.KindMalformed, formats.NoOffset, "layer: %v", err)
}

// rawName is a raw layer's file name, from ModelPack's filepath annotation
// or the OCI title annotation oras writes (they must agree when both are
// given); a Docker GGUF or license layer without either is named by its
// digest.
func rawName(l ocispec.Descriptor) (string, error) {
	fp, title := l.Annotations[AnnotationFilepath], l.Annotations[ocispec.AnnotationTitle]
	name := fp
	switch {
	case fp != "" && title != "" && path.Base(fp) != title && fp != title:
		return "", formats.Errorf(formats.KindMalformed, formats.NoOffset, "layer annotations name it %q and %q", fp, title)
	case fp == "":
		name = title
	}
	if name == "" {
		switch l.MediaType {
		case MediaTypeDockerGGUF:
			name = l.Digest.Encoded() + ".gguf"
		case MediaTypeDockerLicense:
			name = "license-" + l.Digest.Encoded() + ".txt"
		default:
			if sigstoreBundle(l.MediaType) {
				name = defaultBundle
				break
			}
			return "", formats.Errorf(formats.KindMalformed, formats.NoOffset, "raw layer has no %s or %s annotation to name its file", AnnotationFilepath, ocispec.AnnotationTitle)
		}
	}
	return name, checkName(name)
}

// checkName refuses a name that is not a clean, relative, portable path.
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) || path.Clean(name) != name || !filepath.IsLocal(name) || strings.HasPrefix(name, "../") || name == ".." || name == "." {
		return formats.WithPath(formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "the name is not a clean relative path"), name)
	}
	return nil
}

// claim records a new file name, refusing one any layer already produced
// (or that is a directory), and creates its parents.
func (u *unpacker) claim(name string) error {
	if u.files[name] || u.dirs[name] {
		return formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "the artifact holds this name twice"), name)
	}
	if err := u.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	u.files[name] = true
	return nil
}

// mkdirs creates dir and its parents, refusing a parent that is a file.
func (u *unpacker) mkdirs(dir string) error {
	if u.dirs[dir] {
		return nil
	}
	if u.files[dir] {
		return formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "the artifact holds this name as a file and as a directory"), dir)
	}
	if err := u.mkdirs(path.Dir(dir)); err != nil {
		return err
	}
	if err := u.root.Mkdir(dir, 0o700); err != nil {
		return formats.WithPath(formats.IOError(formats.NoOffset, err), dir)
	}
	u.dirs[dir] = true
	return nil
}

// copyBuffers hold the 1 MiB each write copies through: io.Copy's 32 KiB
// cost a write system call per 32 KiB (1 GiB: 32,768 of them).
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// write creates name and copies r into it (size bytes, or to EOF when
// size < 0), within the limits, returning the sha256 of what it wrote
// when hashed (else a zero digest).
func (u *unpacker) write(name string, r io.Reader, size int64, hashed bool) (verify.Digest, error) {
	var sum verify.Digest
	u.count++
	if u.count > u.lim.MaxEntries {
		return sum, formats.Errorf(formats.KindLimitExceeded, formats.NoOffset, "the artifact holds more than the limit MaxEntries=%d", u.lim.MaxEntries)
	}
	left := u.lim.MaxUnpackedBytes - u.total
	if size > left {
		return sum, formats.WithPath(formats.Errorf(formats.KindLimitExceeded, formats.NoOffset, "%d bytes are over the limit MaxUnpackedBytes=%d", size, u.lim.MaxUnpackedBytes), name)
	}
	if err := u.claim(name); err != nil {
		return sum, err
	}
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return sum, formats.WithPath(formats.IOError(formats.NoOffset, err), name)
	}
	defer f.Close()
	var w io.Writer = f
	var h hash.Hash
	if hashed {
		h = sha256.New()
		w = io.MultiWriter(f, h)
	}
	if size >= 0 {
		r = io.LimitReader(r, size)
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	// struct{ io.Writer } hides *os.File's ReadFrom, which would copy in
	// 32 KiB steps; budget has no WriteTo.
	n, err := io.CopyBuffer(struct{ io.Writer }{w}, &budget{r: r, left: left, lim: u.lim.MaxUnpackedBytes}, *buf)
	u.total += n
	if err != nil {
		var fe *formats.Error
		if errors.As(err, &fe) {
			return sum, formats.WithPath(err, name)
		}
		return sum, err
	}
	if size >= 0 && n != size {
		return sum, formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "the entry ends after %d of %d bytes", n, size), name)
	}
	if err := f.Close(); err != nil {
		return sum, formats.WithPath(formats.IOError(formats.NoOffset, err), name)
	}
	if h != nil {
		copy(sum[:], h.Sum(nil))
	}
	return sum, nil
}

// tar unpacks one tar stream, entry by entry.
func (u *unpacker) tar(r io.Reader) ([]string, []verify.Entry, error) {
	tr := tar.NewReader(r)
	var names []string
	var entries []verify.Entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, entries, nil
		}
		if err != nil {
			var fe *formats.Error
			if errors.As(err, &fe) {
				return nil, nil, err
			}
			return nil, nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "tar: %v", err)
		}
		name, err := entryName(hdr)
		if err != nil {
			return nil, nil, err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			u.count++
			if u.count > u.lim.MaxEntries {
				return nil, nil, formats.Errorf(formats.KindLimitExceeded, formats.NoOffset, "the artifact holds more than the limit MaxEntries=%d", u.lim.MaxEntries)
			}
			if u.files[name] {
				return nil, nil, formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "the artifact holds this name as a file and as a directory"), name)
			}
			if err := u.mkdirs(name); err != nil {
				return nil, nil, err
			}
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA is what old writers emit
			sum, err := u.write(name, tr, hdr.Size, true)
			if err != nil {
				return nil, nil, err
			}
			names = append(names, name)
			entries = append(entries, verify.NewEntry(name, verify.SHA256, sum))
		case tar.TypeLink:
			sum, err := u.hardLink(hdr, name)
			if err != nil {
				return nil, nil, err
			}
			names = append(names, name)
			entries = append(entries, verify.NewEntry(name, verify.SHA256, sum))
		case tar.TypeSymlink:
			return nil, nil, symlinkErr(hdr, name)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return nil, nil, formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "a device or FIFO entry (type %q) is not a model file", hdr.Typeflag), name)
		default:
			return nil, nil, formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "tar entry type %q is not unpacked", hdr.Typeflag), name)
		}
	}
}

// entryName checks a tar header's name and the PAX records that would
// change how other unpackers read the entry.
func entryName(hdr *tar.Header) (string, error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return "", formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "a PAX global header, which some unpackers apply to every later entry"), hdr.Name)
	}
	if hdr.Typeflag == tar.TypeGNUSparse {
		return "", formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "a sparse entry (GNU)"), hdr.Name)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return "", formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "a sparse entry (PAX %s)", k), hdr.Name)
		}
	}
	name := hdr.Name
	for strings.HasPrefix(name, "./") {
		name = name[2:]
	}
	if hdr.Typeflag == tar.TypeDir {
		name = strings.TrimSuffix(name, "/")
		if name == "" || name == "." {
			return ".", nil
		}
	}
	if err := checkName(name); err != nil {
		return "", err
	}
	if strings.HasPrefix(path.Base(name), ".wh.") {
		return "", formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "a whiteout: a model artifact is not a filesystem diff"), name)
	}
	return name, nil
}

// hardLink unpacks a hard link as oras (content/file extractHardLink)
// and containerd (archive.Apply) do when its target is a file unpacked
// before it inside the root: another name for the same bytes. It is
// written as a copy, so that it costs its size against MaxUnpackedBytes
// (a thousand links to one large file are a thousand files to hash) and
// the tree holds single-link regular files, as loader.WithoutHardLinks
// wants. A target leaving the root is path-traversal; one that is not a
// file unpacked before it (a directory, a later or missing name) is
// malformed: oras and containerd fail on it too.
func (u *unpacker) hardLink(hdr *tar.Header, name string) (verify.Digest, error) {
	target := hdr.Linkname
	for strings.HasPrefix(target, "./") {
		target = target[2:]
	}
	if err := checkName(target); err != nil {
		return verify.Digest{}, formats.WithPath(formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "a hard link to %s leaves the artifact", hdr.Linkname), name)
	}
	if !u.files[target] {
		return verify.Digest{}, formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "a hard link to %s, which no earlier entry unpacked as a file", hdr.Linkname), name)
	}
	f, err := u.root.Open(target)
	if err != nil {
		return verify.Digest{}, formats.WithPath(formats.IOError(formats.NoOffset, err), target)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return verify.Digest{}, formats.WithPath(formats.IOError(formats.NoOffset, err), target)
	}
	return u.write(name, f, st.Size(), true)
}

// symlinkErr refuses a symbolic link: one leaving the root, and one
// inside it too, which the directory walker refuses in a model directory
// (a model's files must be its own; model_signing refuses links too), so
// unpacking it as oras does would only move the refusal; the kind is the
// walker's, path-traversal.
func symlinkErr(hdr *tar.Header, name string) error {
	target := hdr.Linkname
	if !path.IsAbs(target) {
		target = path.Join(path.Dir(name), target)
	}
	if path.IsAbs(target) || !filepath.IsLocal(target) || strings.Contains(target, "\\") {
		return formats.WithPath(formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "a symbolic link to %s leaves the artifact", hdr.Linkname), name)
	}
	return formats.WithPath(formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "a symbolic link to %s: a model's files must be its own, as in a directory", hdr.Linkname), name)
}

// ratioReader refuses a decompressed stream longer than max bytes.
type ratioReader struct {
	r      io.Reader
	n, max int64
	lim    int64
}

func (r *ratioReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	if r.n > r.max {
		return n, formats.Errorf(formats.KindLimitExceeded, formats.NoOffset, "the layer expands to more than %d bytes, over the limit MaxRatio=%d", r.max, r.lim)
	}
	return n, err
}

// budget refuses a file that would take the artifact over
// MaxUnpackedBytes.
type budget struct {
	r    io.Reader
	left int64
	lim  int64
}

func (b *budget) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, formats.Errorf(formats.KindLimitExceeded, formats.NoOffset, "the artifact unpacks to more than the limit MaxUnpackedBytes=%d", b.lim)
	}
	return n, err
}
