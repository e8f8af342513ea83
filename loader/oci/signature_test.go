package oci_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader/oci"
	"github.com/modelgate/modelgate/verify/signature"
)

// signManifest signs the manifest bytes of md with key as a Sigstore
// message-signature bundle (the form cosign sign-blob --bundle writes) and stores it as a referrer (subject md), as
// cosign --new-bundle-format stores its bundles; it returns the
// referrer's descriptor.
func (a *artifact) signManifest(t *testing.T, md ocispec.Descriptor, key *ecdsa.PrivateKey) ocispec.Descriptor {
	t.Helper()
	sum := sha256.Sum256(a.blobs[md.Digest])
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	require.NoError(t, err)
	b64 := base64.StdEncoding.EncodeToString
	bb := []byte(fmt.Sprintf(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"release"}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":%q},"signature":%q}}`, b64(sum[:]), b64(sig)))
	empty := a.blob([]byte("{}"))
	ref := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: oci.ArtifactTypeSigstoreBundle,
		Config:       ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: empty, Size: 2},
		Layers:       []ocispec.Descriptor{{MediaType: oci.ArtifactTypeSigstoreBundle, Digest: a.blob(bb), Size: int64(len(bb))}},
		Subject:      &ocispec.Descriptor{MediaType: md.MediaType, Digest: md.Digest, Size: md.Size},
	}
	ref.SchemaVersion = 2
	b, err := jsonMarshal(ref)
	require.NoError(t, err)
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: oci.ArtifactTypeSigstoreBundle, Digest: a.blob(b), Size: int64(len(b))}
}

// A manifest signed by an allowed key opens, by tag; one with no
// signature, or signed by another key, is refused before any layer is
// fetched.
func TestManifestSignature(t *testing.T) {
	good, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sv, err := signature.NewVerifier(signature.WithPublicKey("release", good.Public()))
	require.NoError(t, err)

	layout := func(signers ...*ecdsa.PrivateKey) string {
		a := newModelPack()
		a.raw("m.safetensors", safetensors("w"))
		md := a.manifest(t)
		md.Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
		descs := []ocispec.Descriptor{md}
		for _, kp := range signers {
			descs = append(descs, a.signManifest(t, md, kp))
		}
		return a.writeIndex(t, descs...)
	}
	ctx := context.Background()
	m, err := oci.Open(ctx, "oci-layout:"+layout(good)+":v1", oci.WithSignatureVerifier(sv))
	require.NoError(t, err)
	assert.NotEmpty(t, m.Signer)
	m.Close()
	m, err = oci.Open(ctx, "oci-layout:"+layout(other, good)+":v1", oci.WithSignatureVerifier(sv))
	require.NoError(t, err, "one good signature among others suffices")
	m.Close()

	_, err = oci.Open(ctx, "oci-layout:"+layout()+":v1", oci.WithSignatureVerifier(sv))
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "%v", err)
	_, err = oci.Open(ctx, "oci-layout:"+layout(other)+":v1", oci.WithSignatureVerifier(sv))
	assert.Equal(t, formats.KindSignatureInvalid, formats.KindOf(err), "%v", err)
}

// cosignSigTag stores a cosign signature of md in cosign's older scheme:
// a manifest tagged sha256-HEX.sig with a simple-signing payload naming
// signed (md's digest, or another), signed by key.
func (a *artifact) cosignSigTag(t *testing.T, md ocispec.Descriptor, signed string, key *ecdsa.PrivateKey) ocispec.Descriptor {
	t.Helper()
	payload := []byte(`{"critical":{"identity":{"docker-reference":"registry.example/models/x"},"image":{"docker-manifest-digest":"` + signed + `"},"type":"cosign container image signature"},"optional":null}`)
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	require.NoError(t, err)
	cfg := a.blob([]byte("{}"))
	sm := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfg, Size: 2},
		Layers: []ocispec.Descriptor{{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Digest: a.blob(payload), Size: int64(len(payload)),
			Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)}}},
	}
	sm.SchemaVersion = 2
	b, err := jsonMarshal(sm)
	require.NoError(t, err)
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: a.blob(b), Size: int64(len(b)),
		Annotations: map[string]string{ocispec.AnnotationRefName: "sha256-" + md.Digest.Encoded() + ".sig"}}
}

// cosign's .sig tag scheme: a payload naming the manifest, signed by an
// allowed key, verifies; another key or another manifest's payload is
// signature-invalid.
func TestCosignSigTag(t *testing.T) {
	good, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sv, err := signature.NewVerifier(signature.WithPublicKey("release", good.Public()))
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		key     *ecdsa.PrivateKey
		another bool
		kind    formats.Kind
	}{
		{"allowed key", good, false, ""},
		{"another key", other, false, formats.KindSignatureInvalid},
		{"payload for another manifest", good, true, formats.KindSignatureInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newModelPack()
			a.raw("m.safetensors", safetensors("w"))
			md := a.manifest(t)
			signed := md.Digest.String()
			if tc.another {
				signed = "sha256:" + strings.Repeat("ab", 32)
			}
			sig := a.cosignSigTag(t, md, signed, tc.key)
			md.Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
			dir := a.writeIndex(t, md, sig)
			m, err := oci.Open(context.Background(), "oci-layout:"+dir+":v1", oci.WithSignatureVerifier(sv))
			if tc.kind == "" {
				require.NoError(t, err)
				assert.NotEmpty(t, m.Signer)
				m.Close()
				return
			}
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
		})
	}
}
