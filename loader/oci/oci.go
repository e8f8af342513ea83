package oci

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"

	ocilayout "oras.land/oras-go/v2/content/oci"
)

// Media types modelgate knows (CNCF ModelPack model-spec v1, Docker model
// artifacts as written by docker/model-distribution).
const (
	ArtifactTypeModelPack  = "application/vnd.cncf.model.manifest.v1+json"
	MediaTypeModelConfig   = "application/vnd.cncf.model.config.v1+json"
	MediaTypeDockerConfig  = "application/vnd.docker.ai.model.config.v0.1+json"
	MediaTypeDockerGGUF    = "application/vnd.docker.ai.gguf.v3"
	MediaTypeDockerLicense = "application/vnd.docker.ai.license"
	// AnnotationFilepath is ModelPack's layer annotation naming its file.
	AnnotationFilepath = "org.cncf.model.filepath"
	mediaTypeDockerV2  = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerIdx = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// modelPackLayer reports whether mt is one of ModelPack's layer types.
func modelPackLayer(mt string) bool {
	for _, kind := range []string{"weight", "weight.config", "doc", "code", "dataset"} {
		for _, form := range []string{"raw", "tar", "tar+gzip", "tar+zstd"} {
			if mt == "application/vnd.cncf.model."+kind+".v1."+form {
				return true
			}
		}
	}
	return false
}

// Limits bound what an artifact may cost before it is gated.
type Limits struct {
	MaxManifestBytes int64 // a manifest, index or config blob (default 4 MiB)
	MaxUnpackedBytes int64 // all layers' files together (default 1 TiB)
	MaxEntries       int   // files and directories in all layers (default 100000)
	MaxRatio         int64 // unpacked bytes per compressed byte of a layer, beyond 1 MiB (default 200)
}

// DefaultLimits are the limits Open applies where a field is zero.
var DefaultLimits = Limits{MaxManifestBytes: 4 << 20, MaxUnpackedBytes: 1 << 40, MaxEntries: 100000, MaxRatio: 200}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxManifestBytes > 0 {
		d.MaxManifestBytes = l.MaxManifestBytes
	}
	if l.MaxUnpackedBytes > 0 {
		d.MaxUnpackedBytes = l.MaxUnpackedBytes
	}
	if l.MaxEntries > 0 {
		d.MaxEntries = l.MaxEntries
	}
	if l.MaxRatio > 0 {
		d.MaxRatio = l.MaxRatio
	}
	return d
}

// Option configures Open.
type Option func(*config) error

type config struct {
	load          []loader.Option
	requireDigest bool
	plainHTTP     bool
	mediaTypes    map[string]bool
	platform      string
	limits        Limits
	tmp           string
	creds         credentials.Store
	signatures    SignatureVerifier
	required      map[Signed]bool
}

// WithLoaderOptions passes options to loader.Open, which gates the
// unpacked tree (policy, allowlist, signature, profile, mode…).
func WithLoaderOptions(opts ...loader.Option) Option {
	return func(c *config) error { c.load = append(c.load, opts...); return nil }
}

// RequireDigest refuses a reference that names a tag rather than a
// digest (kind not-allowlisted): a tag can be moved.
func RequireDigest() Option {
	return func(c *config) error { c.requireDigest = true; return nil }
}

// WithPlainHTTPUnsafe talks HTTP rather than HTTPS to the registry. A
// loopback registry (localhost, 127.0.0.0/8, ::1) is reached over HTTP
// without it.
func WithPlainHTTPUnsafe() Option {
	return func(c *config) error { c.plainHTTP = true; return nil }
}

// WithMediaTypes accepts further config, artifact and layer media types.
// A named layer type ending in .tar, .tar+gzip or .tar+zstd is unpacked as
// that archive; any other is a raw file.
func WithMediaTypes(types ...string) Option {
	return func(c *config) error {
		for _, t := range types {
			c.mediaTypes[t] = true
		}
		return nil
	}
}

// WithPlatform chooses the manifest of an index by its platform,
// os/arch[/variant].
func WithPlatform(p string) Option {
	return func(c *config) error { c.platform = p; return nil }
}

// WithLimits sets the artifact limits (zero fields keep the defaults).
func WithLimits(l Limits) Option {
	return func(c *config) error { c.limits = l; return nil }
}

// WithTempDir creates the private unpacking directory in dir (default
// os.TempDir).
func WithTempDir(dir string) Option {
	return func(c *config) error { c.tmp = dir; return nil }
}

// WithCredentials uses store for registry credentials (default: the
// Docker configuration, $DOCKER_CONFIG/config.json or
// ~/.docker/config.json, with its credential helpers).
func WithCredentials(store credentials.Store) Option {
	return func(c *config) error { c.creds = store; return nil }
}

// Model is a gated model from an OCI artifact.
type Model struct {
	*loader.Model
	Reference Reference
	Manifest  ocispec.Descriptor // the manifest the reference resolved to
	Signer    string             // who signed the manifest, under WithSignatureVerifier
	Layers    []Layer
	dir       string
}

// Layer is one layer of the artifact and the files it produced.
type Layer struct {
	MediaType string   `json:"media_type"`
	Digest    string   `json:"digest"`
	Size      int64    `json:"size"`
	Files     []string `json:"files"`
}

// Dir returns the private directory the artifact was unpacked into (it
// exists until Close).
func (m *Model) Dir() string { return m.dir }

// Close releases the model and removes its unpacked files (closing the
// embedded loader.Model does both too).
func (m *Model) Close() error {
	if m.Model != nil {
		return m.Model.Close()
	}
	return os.RemoveAll(m.dir)
}

// target is what Open reads: a registry repository or a layout.
type target interface {
	content.Fetcher
	content.Resolver
}

// Open resolves ref, checks and unpacks the artifact, and gates the
// unpacked tree with loader.Open (see the package doc for the order).
func Open(ctx context.Context, ref string, opts ...Option) (m *Model, err error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if c.requireDigest && r.Digest == "" {
		return nil, formats.WithPath(formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the reference names a tag, and a digest pin is required"), ref)
	}
	t, closeT, err := c.open(ctx, r)
	if err != nil {
		return nil, formats.WithPath(err, ref)
	}
	defer closeT()
	desc, man, err := c.resolve(ctx, t, r)
	if err != nil {
		return nil, formats.WithPath(err, ref)
	}
	signers, sigLoad, err := c.signers()
	if err != nil {
		return nil, formats.WithPath(err, ref)
	}
	var manifestSigners []string
	var filesBundles [][]byte
	if len(signers) > 0 {
		var overDigest [][]byte
		if overDigest, filesBundles, err = c.referrerBundles(ctx, t, desc, signers[0].v); err != nil {
			return nil, formats.WithPath(err, ref)
		}
		for _, s := range signers {
			if !s.manifest {
				continue
			}
			who, err := c.verifyManifest(ctx, t, desc, overDigest, s.v)
			if err != nil {
				return nil, formats.WithPath(err, ref)
			}
			manifestSigners = append(manifestSigners, who)
		}
	}
	signer := strings.Join(manifestSigners, "; ")
	dir, err := os.MkdirTemp(c.tmp, "modelgate-oci-")
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), ref)
	}
	m = &Model{Reference: r, Manifest: desc, Signer: signer, dir: dir}
	defer func() {
		if err != nil {
			m.Close()
			m = nil
		}
	}()
	u, err := c.unpack(ctx, t, man, m)
	if err != nil {
		return m, formats.WithPath(err, ref)
	}
	load := slices.Clone(c.load)
	// The manifest approves what was unpacked, unless the caller's own
	// allowlist is given: then it alone decides, as for a directory (a
	// merged one would approve files the caller's does not list).
	if own, err := loader.AllowlistOf(c.load...); err != nil {
		return m, err
	} else if own == nil {
		al, err := verify.NewAllowlist(u.entries...)
		if err != nil {
			return m, err
		}
		load = append([]loader.Option{loader.WithAllowlist(al)}, c.load...)
	}
	load = append(load, sigLoad...)
	filesSigned, policyBundle := false, ""
	for _, s := range signers {
		if s.files && !s.policy {
			load = append(load, loader.WithSignatureVerifier(s.v))
		}
		filesSigned = filesSigned || s.files
		policyBundle = cmp.Or(policyBundle, s.bundle)
	}
	switch {
	case filesSigned && policyBundle != "":
		// The policy names the files signature: it alone is checked (by
		// the loader, as for a directory), not the artifact's own.
		m.Model, err = loader.Open(ctx, dir, load...)
	case filesSigned:
		m.Model, err = c.openSignedFiles(ctx, dir, u, filesBundles, desc, load)
	default:
		m.Model, err = loader.Open(ctx, dir, load...)
	}
	if err != nil {
		return m, err
	}
	m.Model.Path = ref
	switch files := m.Model.Verified.Signer; {
	case files == "":
		m.Model.Verified.Signer = signer
	case signer != "":
		m.Model.Verified.Signer = signer + "; " + files
	}
	m.Model.OnClose(func() error { return os.RemoveAll(dir) })
	return m, nil
}

// newConfig applies the options over the defaults.
func newConfig(opts []Option) (*config, error) {
	c := &config{mediaTypes: map[string]bool{}, required: map[Signed]bool{}}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	c.limits = c.limits.withDefaults()
	return c, nil
}

// openSignedFiles gates the tree with loader.Open under the verifiers,
// trying each model_signing bundle the artifact carries: its bundle
// layers and a model.sig at the root of the tree (files of the tree, so
// the verifier leaves them out, as model_signing does), then those of
// its referrers; the first the verifier accepts wins.
func (c *config) openSignedFiles(ctx context.Context, dir string, u *unpacker, referrers [][]byte, desc ocispec.Descriptor, load []loader.Option) (*loader.Model, error) {
	var cands []string
	for _, name := range u.bundles {
		cands = append(cands, filepath.Join(dir, filepath.FromSlash(name)))
	}
	if u.files[defaultBundle] && !slices.Contains(u.bundles, defaultBundle) {
		cands = append(cands, filepath.Join(dir, defaultBundle))
	}
	if len(referrers) > 0 {
		sigs, err := os.MkdirTemp(c.tmp, "modelgate-oci-sig-")
		if err != nil {
			return nil, formats.IOError(formats.NoOffset, err)
		}
		defer os.RemoveAll(sigs)
		for i, bb := range referrers {
			p := filepath.Join(sigs, fmt.Sprintf("referrer-%d.sigstore.json", i))
			if err := os.WriteFile(p, bb, 0o600); err != nil {
				return nil, formats.IOError(formats.NoOffset, err)
			}
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		return nil, formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "no files signature: no model_signing bundle is a layer of manifest %s (a Sigstore bundle layer, or model.sig at the root of its files) or refers to it", desc.Digest)
	}
	var last error
	for _, p := range cands[:min(len(cands), maxSignatures)] {
		lm, err := loader.Open(ctx, dir, append(slices.Clone(load), loader.WithBundle(p))...)
		if err == nil {
			return lm, nil
		}
		last = err
	}
	return nil, last
}

// open returns the store r names.
func (c *config) open(ctx context.Context, r Reference) (target, func(), error) {
	if r.Layout != "" {
		root, err := os.OpenRoot(r.Layout)
		if err != nil {
			return nil, nil, formats.IOError(formats.NoOffset, err)
		}
		s, err := ocilayout.NewFromFS(ctx, root.FS())
		if err != nil {
			root.Close()
			if errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) || errors.Is(err, errdef.ErrSizeExceedsLimit) {
				return nil, nil, fetchErr(err, "OCI layout")
			}
			return nil, nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "OCI layout: %v", err)
		}
		return s, func() { root.Close() }, nil
	}
	repo, err := remote.NewRepository(r.Registry + "/" + r.Repository)
	if err != nil {
		return nil, nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "OCI reference: %v", err)
	}
	repo.PlainHTTP = c.plainHTTP || loopback(r.Registry)
	if repo.Client, err = c.client(); err != nil {
		return nil, nil, err
	}
	return repo, func() {}, nil
}

// client is the HTTP client for a registry: retries, and the credentials
// of the store given or of the Docker configuration.
func (c *config) client() (*auth.Client, error) {
	store := c.creds
	if store == nil {
		var err error
		if store, err = credentials.NewStoreFromDocker(credentials.StoreOptions{}); err != nil {
			return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "the Docker configuration: %v", err)
		}
	}
	return &auth.Client{Client: retry.DefaultClient, Cache: auth.NewCache(), Credential: credentials.Credential(store)}, nil
}

// resolve finds the manifest r names, following an index to one
// manifest, and returns its descriptor and parsed content.
func (c *config) resolve(ctx context.Context, t target, r Reference) (ocispec.Descriptor, *ocispec.Manifest, error) {
	ref := r.reference()
	var desc ocispec.Descriptor
	var err error
	if ref == "" {
		desc, err = onlyManifest(r.Layout, c.limits.MaxManifestBytes)
	} else {
		desc, err = t.Resolve(ctx, ref)
	}
	if err != nil {
		return desc, nil, fetchErr(err, "resolve "+ref)
	}
	if r.Digest != "" && desc.Digest.String() != r.Digest {
		return desc, nil, formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "the store resolved %s to %s", r.Digest, desc.Digest)
	}
	for hop := 0; ; hop++ {
		b, err := c.fetchSmall(ctx, t, desc)
		if err != nil {
			return desc, nil, err
		}
		var head struct {
			MediaType string `json:"mediaType"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			return desc, nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "manifest %s: %v", desc.Digest, err)
		}
		mt := head.MediaType
		if mt == "" {
			mt = desc.MediaType
		}
		if desc.MediaType != "" && desc.MediaType != "application/octet-stream" && mt != desc.MediaType {
			return desc, nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "manifest %s has media type %s, its descriptor %s", desc.Digest, mt, desc.MediaType)
		}
		switch mt {
		case ocispec.MediaTypeImageManifest, mediaTypeDockerV2:
			var man ocispec.Manifest
			if err := json.Unmarshal(b, &man); err != nil {
				return desc, nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "manifest %s: %v", desc.Digest, err)
			}
			desc.MediaType = mt
			return desc, &man, nil
		case ocispec.MediaTypeImageIndex, mediaTypeDockerIdx:
			if hop > 0 {
				return desc, nil, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "index %s lists another index", desc.Digest)
			}
			var idx ocispec.Index
			if err := json.Unmarshal(b, &idx); err != nil {
				return desc, nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "index %s: %v", desc.Digest, err)
			}
			if desc, err = c.choose(idx); err != nil {
				return desc, nil, err
			}
		default:
			return desc, nil, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%s is not a manifest or index (media type %q)", desc.Digest, mt)
		}
	}
}

// choose picks an index's manifest: the only one, or the one for the
// chosen platform. Docker's attestation manifests are not candidates.
func (c *config) choose(idx ocispec.Index) (ocispec.Descriptor, error) {
	var cands []ocispec.Descriptor
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if c.platform != "" {
			p := d.Platform
			if p == nil || path.Join(p.OS, p.Architecture, p.Variant) != c.platform {
				continue
			}
		}
		cands = append(cands, d)
	}
	switch {
	case len(cands) == 1:
		return cands[0], nil
	case c.platform != "":
		return ocispec.Descriptor{}, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "the index lists %d manifests for platform %s; one is needed", len(cands), c.platform)
	}
	return ocispec.Descriptor{}, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "the index lists %d manifests and no platform was chosen", len(cands))
}

// onlyManifest reads a layout's index.json for its only manifest.
func onlyManifest(dir string, limit int64) (ocispec.Descriptor, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return ocispec.Descriptor{}, formats.IOError(formats.NoOffset, err)
	}
	defer root.Close()
	f, err := root.Open("index.json")
	if err != nil {
		return ocispec.Descriptor{}, formats.IOError(formats.NoOffset, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return ocispec.Descriptor{}, formats.IOError(formats.NoOffset, err)
	}
	if int64(len(b)) > limit {
		return ocispec.Descriptor{}, formats.Errorf(formats.KindLimitExceeded, formats.NoOffset, "index.json is over the limit MaxManifestBytes=%d", limit)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return ocispec.Descriptor{}, formats.Errorf(formats.KindMalformed, formats.NoOffset, "index.json: %v", err)
	}
	if len(idx.Manifests) != 1 {
		return ocispec.Descriptor{}, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "the layout's index.json lists %d manifests; name a tag or digest", len(idx.Manifests))
	}
	return idx.Manifests[0], nil
}

// fetchSmall fetches a manifest or config blob, verifying its digest and
// size, within MaxManifestBytes.
func (c *config) fetchSmall(ctx context.Context, t target, d ocispec.Descriptor) ([]byte, error) {
	return c.fetchLimited(ctx, t, d, c.limits.MaxManifestBytes, "MaxManifestBytes")
}

// fetchLimited fetches a blob of at most limit bytes (named so in the
// refusal), verifying its digest and size.
func (c *config) fetchLimited(ctx context.Context, t target, d ocispec.Descriptor, limit int64, name string) ([]byte, error) {
	if d.Size < 0 || d.Size > limit {
		return nil, formats.Errorf(formats.KindLimitExceeded, formats.NoOffset, "blob %s of %d bytes is over the limit %s=%d", d.Digest, d.Size, name, limit)
	}
	if err := d.Digest.Validate(); err != nil {
		return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "digest %q: %v", d.Digest, err)
	}
	rc, err := t.Fetch(ctx, d)
	if err != nil {
		return nil, fetchErr(err, "fetch "+d.Digest.String())
	}
	defer rc.Close()
	b, err := content.ReadAll(rc, d)
	if err != nil {
		return nil, fetchErr(err, "blob "+d.Digest.String())
	}
	return b, nil
}

// fetchErr maps oras errors to kinds: content that is not what its
// descriptor says is digest-mismatch; the rest is io.
func fetchErr(err error, what string) error {
	var fe *formats.Error
	switch {
	case errors.As(err, &fe):
		return err
	case errors.Is(err, content.ErrMismatchedDigest), errors.Is(err, content.ErrTrailingData),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errdef.ErrSizeExceedsLimit):
		return formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "%s: %v", what, err)
	case errors.Is(err, errdef.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return formats.IOError(formats.NoOffset, fmt.Errorf("%s: %w", what, err))
	}
	return formats.IOError(formats.NoOffset, fmt.Errorf("%s: %w", what, err))
}

// knownConfig reports whether a manifest's artifact or config type is a
// model's.
func (c *config) knownArtifact(man *ocispec.Manifest) error {
	at, ct := man.ArtifactType, man.Config.MediaType
	switch {
	case at == ArtifactTypeModelPack && (ct == MediaTypeModelConfig || ct == ocispec.MediaTypeEmptyJSON):
	case at == "" && ct == MediaTypeModelConfig:
	case at == "" && strings.HasPrefix(ct, MediaTypeDockerConfig):
	case c.mediaTypes[at] || (at == "" && c.mediaTypes[ct]):
	default:
		return formats.Errorf(formats.KindUnsupported, formats.NoOffset, "artifact type %q with config %q is not a model artifact modelgate knows", at, ct)
	}
	return nil
}
