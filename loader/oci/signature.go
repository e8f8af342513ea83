package oci

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"

	"github.com/modelgate/modelgate/formats"
)

// ArtifactTypeSigstoreBundle is the artifact type of a Sigstore bundle
// stored as an OCI referrer (cosign --new-bundle-format).
const ArtifactTypeSigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"

// maxSignatures bounds how many referrers are tried.
const maxSignatures = 16

// DigestVerifier checks a Sigstore bundle over an artifact known by its
// digest and returns the signer (*verify.SignatureVerifier is one).
type DigestVerifier interface {
	VerifyDigest(bundlePath, algorithm string, digest []byte) (string, error)
}

// WithSignatureVerifier requires a Sigstore bundle, stored as a referrer
// of the manifest (its subject), that v accepts over the manifest's
// digest; it is checked before any layer is fetched. No bundle is kind
// not-allowlisted; a bundle v refuses is v's refusal.
func WithSignatureVerifier(v DigestVerifier) Option {
	return func(c *config) error { c.signatures = v; return nil }
}

// verifySignature finds the manifest's Sigstore referrers and returns the
// signer of the first bundle the verifier accepts.
func (c *config) verifySignature(ctx context.Context, t target, desc ocispec.Descriptor) (string, error) {
	var cands []ocispec.Descriptor
	switch s := t.(type) {
	case registry.ReferrerLister:
		err := s.Referrers(ctx, desc, ArtifactTypeSigstoreBundle, func(ds []ocispec.Descriptor) error {
			cands = append(cands, ds...)
			return nil
		})
		if err != nil {
			return "", fetchErr(err, "referrers of "+desc.Digest.String())
		}
	case content.PredecessorFinder:
		ds, err := s.Predecessors(ctx, desc)
		if err != nil {
			return "", fetchErr(err, "referrers of "+desc.Digest.String())
		}
		cands = ds
	}
	digest, err := hex.DecodeString(desc.Digest.Encoded())
	if err != nil {
		return "", formats.Errorf(formats.KindMalformed, formats.NoOffset, "manifest digest %s: %v", desc.Digest, err)
	}
	var last error
	tried := 0
	for _, d := range cands {
		if d.MediaType != ocispec.MediaTypeImageManifest || tried >= maxSignatures {
			continue
		}
		tried++
		b, err := c.fetchSmall(ctx, t, d)
		if err != nil {
			last = err
			continue
		}
		var ref ocispec.Manifest
		if json.Unmarshal(b, &ref) != nil || ref.Subject == nil || ref.Subject.Digest != desc.Digest || ref.ArtifactType != ArtifactTypeSigstoreBundle {
			continue
		}
		for _, l := range ref.Layers {
			if !strings.HasPrefix(l.MediaType, "application/vnd.dev.sigstore.bundle") {
				continue
			}
			signer, err := c.checkBundle(ctx, t, l, desc.Digest.Algorithm().String(), digest)
			if err == nil {
				return signer, nil
			}
			last = err
		}
	}
	if last != nil {
		return "", last
	}
	return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "no Sigstore bundle refers to manifest %s", desc.Digest)
}

// checkBundle fetches one bundle (verified against its descriptor) and
// has the verifier check it over the manifest digest.
func (c *config) checkBundle(ctx context.Context, t target, l ocispec.Descriptor, alg string, digest []byte) (string, error) {
	b, err := c.fetchSmall(ctx, t, l)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(c.tmp, "modelgate-oci-sig-")
	if err != nil {
		return "", formats.IOError(formats.NoOffset, err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "bundle.sigstore.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", formats.IOError(formats.NoOffset, err)
	}
	return c.signatures.VerifyDigest(p, alg, digest)
}
