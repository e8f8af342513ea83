package oci_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader/oci"
	"github.com/modelgate/modelgate/verify"
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
	sv, err := verify.NewSignatureVerifier(verify.WithPublicKey("release", good.Public()))
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
