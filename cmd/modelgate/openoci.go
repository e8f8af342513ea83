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
	var required []oci.Signed
	for _, s := range f.oci.signatures {
		k, err := oci.ParseSigned(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("--oci-signatures: %w", err)}
		}
		required = append(required, k)
	}
	var opts []oci.Option
	flagSigners := f.sig.set() && f.sig.bundle == ""
	if flagSigners {
		// The signers named verify the manifest's Sigstore referrers, or
		// the files (--oci-signatures); a --bundle instead signs the
		// unpacked files (model_signing).
		sv, err := f.sig.verifier()
		if err != nil {
			return nil, err
		}
		opts = append(opts, oci.WithSignatureVerifier(sv), oci.RequireSignatures(required...))
		saved := f.sig
		f.sig = sigFlags{ignorePaths: saved.ignorePaths}
		defer func() { f.sig = saved }()
	}
	lopts, err := f.options("")
	if err != nil {
		return nil, err
	}
	if !flagSigners && len(required) > 0 {
		if !f.oci.policySigns {
			return nil, usageError{fmt.Errorf("--oci-signatures: name who may sign: --key, --ca, --identity with --issuer, or a policy's signatures")}
		}
		// They add to what the policy's signatures.oci requires.
		opts = append(opts, oci.RequireSignatures(required...))
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
