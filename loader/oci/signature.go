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
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// ArtifactTypeSigstoreBundle is the media type of a Sigstore bundle (the
// layer of a referrer that carries one, as cosign --new-bundle-format and
// oras attach write it, or a layer of the artifact itself).
const ArtifactTypeSigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"

// sigstoreBundle reports whether a layer media type is a Sigstore
// bundle's (any version).
func sigstoreBundle(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.dev.sigstore.bundle")
}

// maxSignatures bounds how many referrers, and bundles, are tried;
// maxBundleBytes is a bundle's size bound (verify/signature's
// MaxBundleBytes: a model_signing bundle lists every file).
const (
	maxSignatures  = 16
	maxBundleBytes = 16 << 20
)

// SignatureVerifier checks Sigstore bundles over an artifact known by its
// digest (a cosign signature of the manifest), and model_signing bundles
// over the files of the unpacked model; SignsFiles tells the two apart.
// *signature.Verifier, of verify/signature, is one.
type SignatureVerifier interface {
	VerifyDigest(bundlePath, algorithm string, digest []byte) (string, error)
	loader.SignatureVerifier
	SignsFiles(bundle []byte) bool
}

// Signed names what a required signature signs.
type Signed string

const (
	// SignedManifest is a cosign signature over the manifest digest: a
	// Sigstore bundle referring to the manifest, or cosign's
	// sha256-HEX.sig tag.
	SignedManifest Signed = "manifest"
	// SignedFiles is a model_signing bundle over the unpacked files: a
	// layer of the artifact (a Sigstore bundle layer, or a file model.sig
	// at the root of the tree) or a referrer of the manifest.
	SignedFiles Signed = "files"
)

// ParseSigned parses "manifest" or "files".
func ParseSigned(s string) (Signed, error) {
	switch Signed(s) {
	case SignedManifest, SignedFiles:
		return Signed(s), nil
	}
	return "", formats.Errorf(formats.KindUsage, formats.NoOffset, "required signature %q: the kinds are manifest (cosign over the manifest digest) and files (model_signing over the files)", s)
}

// WithSignatureVerifier requires signatures that v accepts: by default
// SignedManifest, or those RequireSignatures names. A manifest signature
// is checked after the reference resolves and before any layer is
// fetched; a files signature once the tree is unpacked, by loader.Open
// with v, exactly as for a directory holding model.sig, so every unpacked
// file must be covered. A required signature that is missing is kind
// not-allowlisted; one v refuses is v's refusal.
func WithSignatureVerifier(v SignatureVerifier) Option {
	return func(c *config) error { c.signatures = v; return nil }
}

// RequireSignatures names the signatures WithSignatureVerifier requires:
// SignedManifest, SignedFiles, or both.
func RequireSignatures(kinds ...Signed) Option {
	return func(c *config) error {
		for _, k := range kinds {
			if _, err := ParseSigned(string(k)); err != nil {
				return err
			}
			c.required[k] = true
		}
		return nil
	}
}

// signer is one verifier and the signatures it requires.
type signer struct {
	v               SignatureVerifier
	manifest, files bool
	policy          bool // the policy's: loader.Open checks its files signature itself
	// bundle is the policy's signatures.bundle: a files signature kept
	// beside the policy, checked in place of the artifact's own.
	bundle string
}

// signers returns who must sign what: the verifier WithSignatureVerifier
// gave (RequireSignatures, default the manifest), and a policy's
// signatures given to the loader (its oci list, default the files, with
// RequireSignatures too when no verifier was given), and the loader
// options that follow from them.
func (c *config) signers() ([]signer, []loader.Option, error) {
	var out []signer
	var load []loader.Option
	if c.signatures != nil {
		out = append(out, signer{v: c.signatures, manifest: len(c.required) == 0 || c.required[SignedManifest], files: c.required[SignedFiles]})
	}
	p, err := loader.PolicyOf(c.load...)
	if err != nil {
		return nil, nil, err
	}
	if p != nil && p.Signatures != nil {
		ch, err := p.Checks()
		if err != nil {
			return nil, nil, err
		}
		v, ok := ch.Signatures.(SignatureVerifier)
		if !ok {
			return nil, nil, formats.Errorf(formats.KindUsage, formats.NoOffset, "the policy's signature verifier cannot check an OCI artifact's manifest")
		}
		s := signer{v: v, policy: true, files: len(p.Signatures.OCI) == 0}
		for _, k := range p.Signatures.OCI {
			s.manifest = s.manifest || k == verify.OCISignedManifest
			s.files = s.files || k == verify.OCISignedFiles
		}
		if c.signatures == nil {
			s.manifest = s.manifest || c.required[SignedManifest]
			s.files = s.files || c.required[SignedFiles]
		}
		if s.bundle = ch.Bundle; s.bundle != "" && !s.files {
			return nil, nil, formats.Errorf(formats.KindUsage, formats.NoOffset,
				"the policy's signatures name a bundle (%s), a signature of the unpacked files, but require no files signature of an OCI artifact (signatures.oci lists only the manifest): the bundle would go unchecked; list files in signatures.oci, or name no bundle", ch.Bundle)
		}
		if !s.files {
			load = append(load, loader.WithPolicySignaturesCheckedElsewhereUnsafe())
		}
		out = append(out, s)
	}
	if len(out) == 0 && len(c.required) > 0 {
		return nil, nil, formats.Errorf(formats.KindUsage, formats.NoOffset, "signatures are required but no signature verifier or policy signatures are given")
	}
	return out, load, nil
}

// referrerBundles fetches the Sigstore bundles of the manifest's
// referrers and sorts them: model_signing bundles sign files, the others
// the manifest digest.
func (c *config) referrerBundles(ctx context.Context, t target, desc ocispec.Descriptor, v SignatureVerifier) (overDigest, overFiles [][]byte, err error) {
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
			return nil, nil, fetchErr(err, "referrers of "+desc.Digest.String())
		}
	case content.PredecessorFinder:
		ds, err := s.Predecessors(ctx, desc)
		if err != nil {
			return nil, nil, fetchErr(err, "referrers of "+desc.Digest.String())
		}
		cands = ds
	}
	tried := 0
	for _, d := range cands {
		if d.MediaType != ocispec.MediaTypeImageManifest || tried >= maxSignatures {
			continue
		}
		tried++
		b, err := c.fetchSmall(ctx, t, d)
		if err != nil {
			continue // a referrer that does not fetch signs nothing
		}
		var ref ocispec.Manifest
		if json.Unmarshal(b, &ref) != nil || ref.Subject == nil || ref.Subject.Digest != desc.Digest {
			continue
		}
		for i, l := range ref.Layers {
			if !sigstoreBundle(l.MediaType) || i >= maxSignatures {
				continue
			}
			bb, err := c.fetchLimited(ctx, t, l, maxBundleBytes, "MaxBundleBytes")
			if err != nil {
				continue
			}
			if v.SignsFiles(bb) {
				overFiles = append(overFiles, bb)
			} else {
				overDigest = append(overDigest, bb)
			}
		}
	}
	return overDigest, overFiles, nil
}

// verifyManifest returns the signer of the first bundle over the
// manifest digest the verifier accepts, among the referrers' and then
// cosign's sha256-HEX.sig tag.
func (c *config) verifyManifest(ctx context.Context, t target, desc ocispec.Descriptor, bundles [][]byte, v SignatureVerifier) (string, error) {
	digest, err := hex.DecodeString(desc.Digest.Encoded())
	if err != nil {
		return "", formats.Errorf(formats.KindMalformed, formats.NoOffset, "manifest digest %s: %v", desc.Digest, err)
	}
	var last error
	for _, bb := range bundles {
		signer, err := c.verifyBundleBytes(v, bb, desc.Digest.Algorithm().String(), digest)
		if err == nil {
			return signer, nil
		}
		last = err
	}
	signer, err := c.verifySigTag(ctx, t, desc, v)
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
func (c *config) verifySigTag(ctx context.Context, t target, desc ocispec.Descriptor, v SignatureVerifier) (string, error) {
	none := formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "no manifest signature: no Sigstore bundle referring to manifest %s signs its digest, and no cosign signature is tagged for it", desc.Digest)
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
		signer, err := c.verifyBundleBytes(v, bundle, "sha256", sum[:])
		if err == nil {
			return signer, nil
		}
		last = err
	}
	return "", last
}

// verifyBundleBytes has the verifier check bundle b over digest.
func (c *config) verifyBundleBytes(v SignatureVerifier, b []byte, alg string, digest []byte) (string, error) {
	dir, err := os.MkdirTemp(c.tmp, "modelgate-oci-sig-")
	if err != nil {
		return "", formats.IOError(formats.NoOffset, err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "bundle.sigstore.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", formats.IOError(formats.NoOffset, err)
	}
	return v.VerifyDigest(p, alg, digest)
}
