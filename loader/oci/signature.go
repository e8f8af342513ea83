package oci

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
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

// ArtifactTypeSigstoreBundle is the media type of a Sigstore bundle (the
// layer of a referrer that carries one).
const ArtifactTypeSigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"

// maxSignatures bounds how many referrers are tried.
const maxSignatures = 16

// DigestVerifier checks a Sigstore bundle over an artifact known by its
// digest and returns the signer (*signature.Verifier, of verify/signature, is one).
type DigestVerifier interface {
	VerifyDigest(bundlePath, algorithm string, digest []byte) (string, error)
}

// WithSignatureVerifier requires a Sigstore bundle, stored as a referrer
// of the manifest (its subject) or in cosign's sha256-HEX.sig tag, that v
// accepts over the manifest's
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
		// Every referrer: cosign v2.6.5 --new-bundle-format leaves the
		// artifact type unset (its config is the empty descriptor); the
		// bundle layers are what count, and each is verified.
		err := s.Referrers(ctx, desc, "", func(ds []ocispec.Descriptor) error {
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
		if json.Unmarshal(b, &ref) != nil || ref.Subject == nil || ref.Subject.Digest != desc.Digest {
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
	signer, err := c.verifySigTag(ctx, t, desc)
	if err == nil || last == nil {
		return signer, err
	}
	return "", last
}

// Cosign's older scheme: a manifest tagged sha256-HEX.sig whose
// simple-signing layers carry the signature in an annotation.
const (
	mediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	annotationCosignSig    = "dev.cosignproject.cosign/signature"
)

// verifySigTag reads the sha256-HEX.sig tag: each simple-signing payload
// must name the manifest digest, and its signature is checked by the
// verifier as a Sigstore message-signature bundle over the payload.
func (c *config) verifySigTag(ctx context.Context, t target, desc ocispec.Descriptor) (string, error) {
	none := formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "no Sigstore bundle refers to manifest %s, and no cosign signature is tagged for it", desc.Digest)
	sd, err := t.Resolve(ctx, desc.Digest.Algorithm().String()+"-"+desc.Digest.Encoded()+".sig")
	if err != nil {
		return "", none
	}
	b, err := c.fetchSmall(ctx, t, sd)
	if err != nil {
		return "", err
	}
	var sm ocispec.Manifest
	if err := json.Unmarshal(b, &sm); err != nil {
		return "", formats.Errorf(formats.KindMalformed, formats.NoOffset, "cosign signature manifest %s: %v", sd.Digest, err)
	}
	var last error = none
	for i, l := range sm.Layers {
		if l.MediaType != mediaTypeSimpleSigning || i >= maxSignatures {
			continue
		}
		sig := l.Annotations[annotationCosignSig]
		payload, err := c.fetchSmall(ctx, t, l)
		if err != nil {
			return "", err
		}
		var p struct {
			Critical struct {
				Image struct {
					Digest string `json:"docker-manifest-digest"`
				} `json:"image"`
				Type string `json:"type"`
			} `json:"critical"`
		}
		if json.Unmarshal(payload, &p) != nil || p.Critical.Type != "cosign container image signature" || p.Critical.Image.Digest != desc.Digest.String() {
			last = formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, "cosign payload %s does not sign manifest %s", l.Digest, desc.Digest)
			continue
		}
		sum := sha256.Sum256(payload)
		bundle, _ := json.Marshal(map[string]any{
			"mediaType":            "application/vnd.dev.sigstore.bundle.v0.3+json",
			"verificationMaterial": map[string]any{"publicKey": map[string]string{"hint": ""}},
			"messageSignature": map[string]any{
				"messageDigest": map[string]string{"algorithm": "SHA2_256", "digest": base64.StdEncoding.EncodeToString(sum[:])},
				"signature":     sig,
			},
		})
		signer, err := c.verifyBundleBytes(bundle, "sha256", sum[:])
		if err == nil {
			return signer, nil
		}
		last = err
	}
	return "", last
}

// checkBundle fetches one bundle (verified against its descriptor) and
// has the verifier check it over the manifest digest.
func (c *config) checkBundle(ctx context.Context, t target, l ocispec.Descriptor, alg string, digest []byte) (string, error) {
	b, err := c.fetchSmall(ctx, t, l)
	if err != nil {
		return "", err
	}
	return c.verifyBundleBytes(b, alg, digest)
}

// verifyBundleBytes has the verifier check bundle b over digest.
func (c *config) verifyBundleBytes(b []byte, alg string, digest []byte) (string, error) {
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
