package oci

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/modelgate/modelgate/formats"
)

// Tagged is one artifact a scan gates: a tag of a registry repository or
// of a layout, or a manifest a scope named by digest. An entry whose
// listing failed carries the error, with Tag empty (a repository's tags)
// or Repository empty too (the registry's catalog).
type Tagged struct {
	Registry   string // host[:port]; empty for a layout
	Repository string
	Layout     string // the layout directory; empty for a registry
	Tag        string
	Digest     string // when the scope pinned the manifest
	Err        error  // the listing that should have named it failed
}

func (a Tagged) reference() Reference {
	return Reference{Registry: a.Registry, Repository: a.Repository, Layout: a.Layout, Tag: a.Tag, Digest: a.Digest}
}

// String returns the reference as given: oci://REGISTRY/REPO:TAG,
// oci-layout:DIR:TAG, …@DIGEST; oci://REGISTRY for the catalog.
func (a Tagged) String() string {
	if a.Layout == "" && a.Repository == "" {
		return "oci://" + a.Registry
	}
	return a.reference().String()
}

// Pinned returns the reference to the manifest digest d that the tag
// resolved to: oci://REGISTRY/REPO:TAG@DIGEST, which registry clients
// (oras, docker, ParseReference) read as the digest, the tag kept for the
// reader; oci-layout:DIR@DIGEST for a layout.
func (a Tagged) Pinned(d string) string {
	if a.Layout != "" || a.Tag == "" {
		r := a.reference()
		r.Tag, r.Digest = "", d
		return r.String()
	}
	return "oci://" + a.Registry + "/" + a.Repository + ":" + a.Tag + "@" + d
}

// Key is what a shard is chosen by: "REPO:TAG" (a layout's directory
// stands for the repository; "REPO@DIGEST" for a pinned manifest).
func (a Tagged) Key() string {
	repo := cmp.Or(a.Layout, a.Repository)
	if a.Digest != "" {
		return repo + "@" + a.Digest
	}
	return repo + ":" + a.Tag
}

// List names the artifacts a scan of scope gates, sorted by registry,
// repository (or layout) and tag:
//
//   - oci://REGISTRY: every repository the registry's catalog lists, and
//     each one's tags;
//   - oci://REGISTRY/REPO: the repository's tags;
//   - oci-layout:DIR, or a directory holding an oci-layout file: the
//     layout's tags;
//   - a reference naming a tag or a digest: that one.
//
// A listing that fails is an entry with Err set, so that the other
// repositories are still listed; the error is a malformed scope (kind
// malformed) or the context's.
func List(ctx context.Context, scope string, opts ...Option) ([]Tagged, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	var out []Tagged
	if host, ok := strings.CutPrefix(scope, "oci://"); ok && !strings.Contains(host, "/") {
		if err := (registry.Reference{Registry: host}).ValidateRegistry(); err != nil {
			return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "OCI registry %q: %v", scope, err)
		}
		repos, err := c.catalog(ctx, host)
		if err != nil {
			out = append(out, Tagged{Registry: host, Err: formats.WithPath(err, scope)})
		}
		for _, repo := range repos {
			out = append(out, c.tags(ctx, Tagged{Registry: host, Repository: repo})...)
		}
	} else {
		r, err := parseScope(scope)
		if err != nil {
			return nil, err
		}
		a := Tagged{Registry: r.Registry, Repository: r.Repository, Layout: r.Layout, Tag: r.Tag, Digest: r.Digest}
		if a.Tag != "" || a.Digest != "" {
			out = append(out, a)
		} else {
			out = append(out, c.tags(ctx, a)...)
		}
	}
	slices.SortFunc(out, func(a, b Tagged) int {
		return cmp.Or(cmp.Compare(a.Registry, b.Registry), cmp.Compare(a.Layout, b.Layout),
			cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Tag, b.Tag), cmp.Compare(a.Digest, b.Digest))
	})
	return out, ctx.Err()
}

// parseScope reads a reference that may name a repository alone.
func parseScope(scope string) (Reference, error) {
	if rest, ok := strings.CutPrefix(scope, "oci://"); ok {
		r, err := registry.ParseReference(rest)
		if err != nil {
			return Reference{}, formats.Errorf(formats.KindMalformed, formats.NoOffset, "OCI reference %q: %v", scope, err)
		}
		if r.Reference == "" {
			return Reference{Registry: r.Registry, Repository: r.Repository}, nil
		}
	}
	return ParseReference(scope)
}

// catalog lists a registry's repositories.
func (c *config) catalog(ctx context.Context, host string) ([]string, error) {
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "OCI registry: %v", err)
	}
	reg.PlainHTTP = c.plainHTTP || loopback(host)
	if reg.Client, err = c.client(); err != nil {
		return nil, err
	}
	repos, err := registry.Repositories(ctx, reg)
	if err != nil {
		return nil, fetchErr(err, "the catalog")
	}
	return repos, nil
}

// tags lists the tags of a's repository or layout.
func (c *config) tags(ctx context.Context, a Tagged) []Tagged {
	failed := func(err error) []Tagged {
		a.Err = formats.WithPath(err, a.String())
		return []Tagged{a}
	}
	t, closeT, err := c.open(ctx, a.reference())
	if err != nil {
		return failed(err)
	}
	defer closeT()
	lister, ok := t.(registry.TagLister)
	if !ok {
		return failed(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "the store lists no tags"))
	}
	tags, err := registry.Tags(ctx, lister)
	if err != nil {
		return failed(fetchErr(err, "tags"))
	}
	out := make([]Tagged, 0, len(tags))
	for _, tag := range tags {
		b := a
		b.Tag = tag
		out = append(out, b)
	}
	return out
}

// Resolved is what a tag names now.
type Resolved struct {
	Manifest ocispec.Descriptor
	// Signature says the manifest carries signatures and nothing else: a
	// manifest whose every layer is a cosign simple-signing payload, a
	// Sigstore bundle or a DSSE envelope (cosign's sha256-HEX.sig and .att
	// tags, a bundle stored as a referrer), or an index listing only such
	// manifests (the referrers tag schema's sha256-HEX). It is decided by
	// content, never by the tag's name.
	Signature bool
}

// Resolve resolves a to its manifest digest now, and says whether the
// manifest is a signature rather than a model.
func Resolve(ctx context.Context, a Tagged, opts ...Option) (Resolved, error) {
	c, err := newConfig(opts)
	if err != nil {
		return Resolved{}, err
	}
	r := a.reference()
	t, closeT, err := c.open(ctx, r)
	if err != nil {
		return Resolved{}, formats.WithPath(err, a.String())
	}
	defer closeT()
	desc, err := t.Resolve(ctx, r.reference())
	if err != nil {
		return Resolved{}, formats.WithPath(fetchErr(err, "resolve "+r.reference()), a.String())
	}
	if a.Digest != "" && desc.Digest.String() != a.Digest {
		return Resolved{}, formats.WithPath(formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "the store resolved %s to %s", a.Digest, desc.Digest), a.String())
	}
	sig, err := c.signatureOnly(ctx, t, desc, 0)
	if err != nil {
		return Resolved{}, formats.WithPath(err, a.String())
	}
	return Resolved{Manifest: desc, Signature: sig}, nil
}

// signatureLayer reports whether a layer media type carries a signature.
func signatureLayer(mt string) bool {
	return mt == mediaTypeSimpleSigning || mt == "application/vnd.dsse.envelope.v1+json" ||
		strings.HasPrefix(mt, "application/vnd.dev.sigstore.bundle")
}

// signatureOnly reports whether the manifest d carries signatures only
// (see Resolved.Signature); an index is followed one level.
func (c *config) signatureOnly(ctx context.Context, t target, d ocispec.Descriptor, hop int) (bool, error) {
	b, err := c.fetchSmall(ctx, t, d)
	if err != nil {
		return false, err
	}
	var m struct {
		MediaType string               `json:"mediaType"`
		Layers    []ocispec.Descriptor `json:"layers"`
		Manifests []ocispec.Descriptor `json:"manifests"`
	}
	if json.Unmarshal(b, &m) != nil {
		return false, nil // not for this question to refuse: Open reads it
	}
	switch cmp.Or(m.MediaType, d.MediaType) {
	case ocispec.MediaTypeImageManifest:
		return len(m.Layers) > 0 && !slices.ContainsFunc(m.Layers, func(l ocispec.Descriptor) bool { return !signatureLayer(l.MediaType) }), nil
	case ocispec.MediaTypeImageIndex:
		if hop > 0 || len(m.Manifests) == 0 || len(m.Manifests) > maxSignatures {
			return false, nil
		}
		for _, md := range m.Manifests {
			if ok, err := c.signatureOnly(ctx, t, md, hop+1); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	}
	return false, nil
}

// MaxShards bounds N in a shard I/N.
const MaxShards = 1_000_000

// Shard is part I of N of a scan, as a Kubernetes Indexed Job's
// completion index I of N completions runs it.
type Shard struct{ Index, Count int }

// ParseShard reads "I/N": decimal numbers without signs or leading zeros,
// 0 <= I < N <= MaxShards. Anything else is kind usage.
func ParseShard(s string) (Shard, error) {
	bad := func(why string) (Shard, error) {
		return Shard{}, formats.Errorf(formats.KindUsage, formats.NoOffset, "shard %q: %s", s, why)
	}
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return bad("not I/N")
	}
	num := func(v string) (int, bool) {
		if v == "" || len(v) > 7 || strings.Trim(v, "0123456789") != "" || (len(v) > 1 && v[0] == '0') {
			return 0, false
		}
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	i, iok := num(is)
	n, nok := num(ns)
	switch {
	case !iok || !nok:
		return bad("I and N must be decimal numbers, no sign or leading zero")
	case n == 0 || n > MaxShards:
		return bad("N must be 1 to " + strconv.Itoa(MaxShards))
	case i >= n:
		return bad("I must be below N (indices count from 0)")
	}
	return Shard{Index: i, Count: n}, nil
}

// String returns "I/N".
func (s Shard) String() string { return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count) }

// Owns reports whether a belongs to the shard: the first 8 bytes of the
// SHA-256 of a.Key(), big-endian, modulo N, are I. It depends on the key
// alone, so each artifact belongs to exactly one shard, and a tag added
// while shards run moves no other.
func (s Shard) Owns(a Tagged) bool {
	h := sha256.Sum256([]byte(a.Key()))
	return binary.BigEndian.Uint64(h[:8])%uint64(s.Count) == uint64(s.Index)
}
