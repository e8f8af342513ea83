package oci_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/loader/oci"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// signFiles signs files (name -> bytes) with key as model_signing does
// (verify/signature's SignModel: a DSSE statement listing every file),
// as if they were a model directory, and returns the bundle.
func signFiles(t testing.TB, key *ecdsa.PrivateKey, files map[string][]byte) []byte {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	b, err := signature.SignModel(context.Background(), dir, key, signature.SignOptions{})
	require.NoError(t, err)
	return b
}

// referrer stores b as a Sigstore bundle referrer of md, as oras attach
// --artifact-type application/vnd.dev.sigstore.bundle.v0.3+json writes
// one, and returns its descriptor.
func (a *artifact) referrer(t testing.TB, md ocispec.Descriptor, b []byte) ocispec.Descriptor {
	t.Helper()
	empty := a.blob([]byte("{}"))
	ref := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: oci.ArtifactTypeSigstoreBundle,
		Config:       ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: empty, Size: 2},
		Layers: []ocispec.Descriptor{{MediaType: oci.ArtifactTypeSigstoreBundle, Digest: a.blob(b), Size: int64(len(b)),
			Annotations: map[string]string{ocispec.AnnotationTitle: "model.sig"}}},
		Subject: &ocispec.Descriptor{MediaType: md.MediaType, Digest: md.Digest, Size: md.Size},
	}
	ref.SchemaVersion = 2
	rb, err := jsonMarshal(ref)
	require.NoError(t, err)
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: oci.ArtifactTypeSigstoreBundle, Digest: a.blob(rb), Size: int64(len(rb))}
}

// A model_signing bundle carried in the artifact, as a layer (a Sigstore
// bundle layer, or model.sig at the root of the files) or as a referrer,
// is verified over the unpacked tree by the verifier a directory with
// model.sig gets: every file must be covered. The policy names which
// signatures are required, and a missing one is refused.
func TestModelSigningInArtifact(t *testing.T) {
	good, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sv, err := signature.NewVerifier(signature.WithPublicKey("release", good.Public()))
	require.NoError(t, err)
	w, v := safetensors("w"), safetensors("v")
	signed := map[string][]byte{"m.safetensors": w}
	files := oci.RequireSignatures(oci.SignedFiles)
	both := oci.RequireSignatures(oci.SignedFiles, oci.SignedManifest)
	const bundleMT = oci.ArtifactTypeSigstoreBundle

	for _, tc := range []struct {
		name  string
		build func(a *artifact) // layers beyond m.safetensors
		ref   []byte            // a referrer's bundle
		mfst  *ecdsa.PrivateKey // a cosign signature of the manifest
		req   []oci.Option
		kind  formats.Kind
	}{
		{name: "bundle layer named model.sig", req: []oci.Option{files},
			build: func(a *artifact) {
				a.layer(bundleMT, signFiles(t, good, signed), ocispec.AnnotationTitle, "model.sig")
			}},
		{name: "bundle layer without a name is model.sig", req: []oci.Option{files},
			build: func(a *artifact) { a.layer(bundleMT, signFiles(t, good, signed)) }},
		{name: "bundle layer under another name", req: []oci.Option{files},
			build: func(a *artifact) {
				a.layer(bundleMT, signFiles(t, good, signed), ocispec.AnnotationTitle, "signature.sigstore.json")
			}},
		{name: "model.sig as a ModelPack doc layer", req: []oci.Option{files},
			build: func(a *artifact) {
				a.layer("application/vnd.cncf.model.doc.v1.raw", signFiles(t, good, signed), oci.AnnotationFilepath, "model.sig")
			}},
		{name: "model.sig inside a tar layer", req: []oci.Option{files},
			build: func(a *artifact) {
				a.layer("application/vnd.cncf.model.doc.v1.tar", tarOf(t, file("model.sig", signFiles(t, good, signed))))
			}},
		{name: "referrer", req: []oci.Option{files}, ref: signFiles(t, good, signed)},
		{name: "referrer and manifest signature, both required", req: []oci.Option{both}, ref: signFiles(t, good, signed), mfst: good},

		{name: "a file the bundle does not list", req: []oci.Option{files}, kind: formats.KindDigestMismatch,
			build: func(a *artifact) {
				a.raw("extra.safetensors", v)
				a.layer(bundleMT, signFiles(t, good, signed))
			}},
		{name: "a referrer's bundle not listing a file", req: []oci.Option{files}, kind: formats.KindDigestMismatch,
			build: func(a *artifact) { a.raw("extra.safetensors", v) }, ref: signFiles(t, good, signed)},
		{name: "a file whose bytes differ from the signed ones", req: []oci.Option{files}, kind: formats.KindDigestMismatch,
			ref: signFiles(t, good, map[string][]byte{"m.safetensors": v})},
		{name: "signed by another key", req: []oci.Option{files}, kind: formats.KindSignatureInvalid,
			build: func(a *artifact) { a.layer(bundleMT, signFiles(t, other, signed)) }},
		{name: "files required, none", req: []oci.Option{files}, kind: formats.KindNotAllowlisted},
		{name: "files required, only a manifest signature", req: []oci.Option{files}, mfst: good, kind: formats.KindNotAllowlisted},
		{name: "both required, only files", req: []oci.Option{both}, ref: signFiles(t, good, signed), kind: formats.KindNotAllowlisted},
		{name: "both required, only the manifest", req: []oci.Option{both}, mfst: good, kind: formats.KindNotAllowlisted},
		{name: "manifest required (the default), only a model_signing referrer", ref: signFiles(t, good, signed), kind: formats.KindNotAllowlisted},
		{name: "manifest required, a model_signing layer does not sign the manifest", kind: formats.KindNotAllowlisted,
			build: func(a *artifact) { a.layer(bundleMT, signFiles(t, good, signed)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newModelPack()
			a.raw("m.safetensors", w)
			if tc.build != nil {
				tc.build(a)
			}
			md := a.manifest(t)
			descs := []ocispec.Descriptor{md}
			if tc.ref != nil {
				descs = append(descs, a.referrer(t, md, tc.ref))
			}
			if tc.mfst != nil {
				descs = append(descs, a.signManifest(t, md, tc.mfst))
			}
			descs[0].Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
			dir := a.writeIndex(t, descs...)
			m, err := oci.Open(context.Background(), "oci-layout:"+dir+":v1", append([]oci.Option{oci.WithSignatureVerifier(sv)}, tc.req...)...)
			if tc.kind != "" {
				assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
				return
			}
			require.NoError(t, err)
			defer m.Close()
			assert.Contains(t, m.Verified.Signer, "release")
			assert.True(t, m.Verified.Allowlisted)
			assert.Len(t, m.Tensors, 1)
		})
	}
}

// Naming a signature kind modelgate does not know, or requiring
// signatures with no verifier, is a usage error.
func TestRequireSignaturesUsage(t *testing.T) {
	a := newModelPack()
	a.raw("m.safetensors", safetensors("w"))
	dir, _ := a.writeLayout(t, "v1")
	_, err := oci.Open(context.Background(), "oci-layout:"+dir+":v1", oci.RequireSignatures("tree"))
	assert.Equal(t, formats.KindUsage, formats.KindOf(err), "%v", err)
	_, err = oci.Open(context.Background(), "oci-layout:"+dir+":v1", oci.RequireSignatures(oci.SignedFiles))
	assert.Equal(t, formats.KindUsage, formats.KindOf(err), "%v", err)
	for _, s := range []string{"manifest", "files"} {
		k, err := oci.ParseSigned(s)
		require.NoError(t, err)
		assert.Equal(t, s, string(k))
	}
}

// Without a verifier an artifact carrying a model_signing bundle opens:
// the bundle is an inert file of the tree, approved by its layer, as
// model.sig is in a directory.
func TestBundleLayerWithoutVerifier(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	w := safetensors("w")
	a := newModelPack()
	a.raw("m.safetensors", w)
	a.layer(oci.ArtifactTypeSigstoreBundle, signFiles(t, key, map[string][]byte{"m.safetensors": w}))
	dir, _ := a.writeLayout(t, "v1")
	m, err := oci.Open(context.Background(), "oci-layout:"+dir+":v1")
	require.NoError(t, err)
	defer m.Close()
	assert.Equal(t, []string{"model.sig"}, m.Layers[1].Files)
	assert.Empty(t, m.Verified.Signer)
}

// orasBin returns the oras CLI ($MODELGATE_ORAS or PATH); without it the
// test is skipped, and fails under CI=true.
func orasBin(t *testing.T) string {
	bin := os.Getenv("MODELGATE_ORAS")
	if bin == "" {
		bin, _ = exec.LookPath("oras")
	}
	if bin == "" {
		const install = "go install oras.land/oras/cmd/oras@v1.3.6"
		if os.Getenv("CI") == "true" {
			t.Fatalf("the oras CLI is missing: %s", install)
		}
		t.Skipf("needs the oras CLI: %s (or set MODELGATE_ORAS)", install)
	}
	return bin
}

// A model_signing bundle attached with the real oras CLI (oras attach,
// the bundle as a Sigstore bundle layer of a referrer), or pushed with
// oras push as a layer of the artifact beside the weights, verifies the
// files of the artifact in a real registry; the same bundle over other
// files is refused.
func TestRegistryModelSigningWithOras(t *testing.T) {
	r := startRegistry(t)
	bin := orasBin(t)
	r.dockerConfig(t, r.host)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sv, err := signature.NewVerifier(signature.WithPublicKey("release", key.Public()))
	require.NoError(t, err)
	work := t.TempDir()
	w := safetensors("w")
	require.NoError(t, os.WriteFile(filepath.Join(work, "model.safetensors"), w, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(work, "model.sig"), signFiles(t, key, map[string][]byte{"model.safetensors": w}), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(work, "other.sig"), signFiles(t, key, map[string][]byte{"model.safetensors": safetensors("v")}), 0o644))
	oras := func(args ...string) {
		cmd := exec.Command(bin, append(args[:1:1], append([]string{"--plain-http", "-u", r.user, "-p", r.pass}, args[1:]...)...)...)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "oras %v: %s", args, out)
	}
	weight := "model.safetensors:application/vnd.cncf.model.weight.v1.raw"
	open := func(repo string) error {
		m, err := oci.Open(context.Background(), "oci://"+r.host+"/"+repo+":v1", oci.WithSignatureVerifier(sv), oci.RequireSignatures(oci.SignedFiles))
		if err == nil {
			assert.Contains(t, m.Verified.Signer, "release")
			m.Close()
		}
		return err
	}

	oras("push", r.host+"/ms/attached:v1", "--artifact-type", oci.ArtifactTypeModelPack, weight)
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(open("ms/attached")), "no bundle yet")
	oras("attach", "--artifact-type", oci.ArtifactTypeSigstoreBundle, r.host+"/ms/attached:v1", "model.sig:"+oci.ArtifactTypeSigstoreBundle)
	require.NoError(t, open("ms/attached"))

	oras("push", r.host+"/ms/layer:v1", "--artifact-type", oci.ArtifactTypeModelPack, weight, "model.sig:"+oci.ArtifactTypeSigstoreBundle)
	require.NoError(t, open("ms/layer"))

	oras("push", r.host+"/ms/wrong:v1", "--artifact-type", oci.ArtifactTypeModelPack, weight)
	oras("attach", "--artifact-type", oci.ArtifactTypeSigstoreBundle, r.host+"/ms/wrong:v1", "other.sig:"+oci.ArtifactTypeSigstoreBundle)
	assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(open("ms/wrong")))
}

// A policy's signatures, given to the loader, are checked over the
// artifact as its signatures.oci says: files (the default) or the
// manifest, or both. A policy asking for the manifest only opens an
// artifact whose files carry no model_signing bundle.
func TestPolicySignaturesOverArtifact(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "release.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	policy := func(oci string) *verify.Policy {
		p, err := verify.ParsePolicy([]byte("signatures:\n  keys: [release.pub]\n"+oci), dir)
		require.NoError(t, err)
		return p
	}
	w := safetensors("w")
	for _, tc := range []struct {
		name         string
		oci          string
		files, mfest bool
		kind         formats.Kind
	}{
		{"files by default", "", true, false, ""},
		{"files by default, only the manifest signed", "", false, true, formats.KindNotAllowlisted},
		{"manifest", "  oci: [manifest]\n", false, true, ""},
		{"manifest, none", "  oci: [manifest]\n", false, false, formats.KindNotAllowlisted},
		{"manifest, only the files signed", "  oci: [manifest]\n", true, false, formats.KindNotAllowlisted},
		{"both", "  oci: [manifest, files]\n", true, true, ""},
		{"both, only the files signed", "  oci: [files, manifest]\n", true, false, formats.KindNotAllowlisted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newModelPack()
			a.raw("m.safetensors", w)
			md := a.manifest(t)
			descs := []ocispec.Descriptor{md}
			if tc.files {
				descs = append(descs, a.referrer(t, md, signFiles(t, key, map[string][]byte{"m.safetensors": w})))
			}
			if tc.mfest {
				descs = append(descs, a.signManifest(t, md, key))
			}
			descs[0].Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
			layout := a.writeIndex(t, descs...)
			m, err := oci.Open(context.Background(), "oci-layout:"+layout+":v1", oci.WithLoaderOptions(loader.WithPolicy(policy(tc.oci))))
			if tc.kind != "" {
				assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
				return
			}
			require.NoError(t, err)
			defer m.Close()
			assert.NotEmpty(t, m.Verified.Signer)
		})
	}
	_, err = verify.ParsePolicy([]byte("signatures:\n  keys: [release.pub]\n  oci: [tree]\n"), dir)
	assert.ErrorContains(t, err, "signatures.oci")
}

// stubVerifier is a policy's signature verifier that cannot check an OCI
// manifest (it has no VerifyDigest).
type stubVerifier struct{}

func (stubVerifier) VerifyModel(context.Context, *verify.ModelDigests) (string, error) {
	return "stub", nil
}

// A policy whose signature verifier (from another builder than
// verify/signature's) cannot check an OCI manifest is a usage error,
// rather than its signatures going unchecked.
func TestPolicyVerifierWithoutDigestsIsUsage(t *testing.T) {
	verify.RegisterSignatures(func(*verify.Signatures, string, ...verify.Algorithm) (verify.ModelVerifier, error) {
		return stubVerifier{}, nil
	})
	t.Cleanup(func() {
		verify.RegisterSignatures(func(s *verify.Signatures, dir string, algs ...verify.Algorithm) (verify.ModelVerifier, error) {
			return signature.FromPolicy(s, dir, algs...)
		})
	})
	dir := t.TempDir()
	p, err := verify.ParsePolicy([]byte("signatures:\n  keys: [k.pub]\n"), dir)
	require.NoError(t, err)
	a := newModelPack()
	a.raw("m.safetensors", safetensors("w"))
	layout, _ := a.writeLayout(t, "v1")
	_, err = oci.Open(context.Background(), "oci-layout:"+layout+":v1", oci.WithLoaderOptions(loader.WithPolicy(p)))
	assert.Equal(t, formats.KindUsage, formats.KindOf(err), "%v", err)
	_, err = verify.ParsePolicy([]byte("signatures:\n  keys: [k.pub]\n  oci: [files, files]\n"), dir)
	assert.ErrorContains(t, err, "listed twice")
}
