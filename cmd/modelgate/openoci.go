//go:build !modelgate_lean

package main

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/loader/oci"
)

// ownEvidence reports whether the loader options verify the files by
// themselves: an allowlist (--sha256, a policy's digests) or a policy's
// signatures.
func (o *ociFlags) ownEvidence(lopts []loader.Option) bool {
	if a, err := loader.AllowlistOf(lopts...); err == nil && a != nil {
		return true
	}
	return o.policySigns
}

// openOCI opens an OCI artifact (loader/oci): the flags' loader options
// gate the unpacked tree.
func (f *loadFlags) openOCI(ctx context.Context, ref string) (*loader.Model, error) {
	if f.sha256File != "" || f.root != "" {
		return nil, usageError{fmt.Errorf("--sha256-file and --root name files on disk; an OCI artifact's files are approved by its manifest")}
	}
	var opts []oci.Option
	if f.sig.set() && f.sig.bundle == "" {
		// The signers named verify the manifest's Sigstore referrers; a
		// --bundle instead signs the unpacked files (model_signing).
		sv, err := f.sig.verifier()
		if err != nil {
			return nil, err
		}
		opts = append(opts, oci.WithSignatureVerifier(sv))
		saved := f.sig
		f.sig = sigFlags{ignorePaths: saved.ignorePaths}
		defer func() { f.sig = saved }()
	}
	lopts, err := f.options("")
	if err != nil {
		return nil, err
	}
	opts = append(opts, oci.WithLoaderOptions(lopts...))
	opts = append(opts, f.oci.options()...)
	if f.oci.pinned && !f.oci.ownEvidence(lopts) {
		opts = append(opts, oci.RequireDigest())
	}
	m, err := oci.Open(ctx, ref, opts...)
	if err != nil {
		return nil, err
	}
	return m.Model, nil
}

// options are how to reach and read the artifact (oci.Open, oci.List,
// oci.Resolve).
func (o *ociFlags) options() []oci.Option {
	opts := []oci.Option{oci.WithMediaTypes(o.mediaTypes...)}
	if o.plainHTTP {
		opts = append(opts, oci.WithPlainHTTPUnsafe())
	}
	if o.platform != "" {
		opts = append(opts, oci.WithPlatform(o.platform))
	}
	return opts
}
