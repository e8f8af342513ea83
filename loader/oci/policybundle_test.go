package oci_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/loader/oci"
	"github.com/modelgate/modelgate/verify"
)

// A policy's signatures.bundle is the artifact's files signature, kept
// beside the policy as --bundle is kept beside a directory: it alone is
// checked over the unpacked files, and the bundles the artifact carries
// (layers, model.sig, referrers) are not tried, so a valid one does not
// rescue a policy bundle that fails, and a model.sig among the files is a
// file like any other. A policy that names a bundle but
// requires only the manifest signature of an OCI artifact would leave the
// bundle unchecked: usage.
func TestPolicyBundleIsTheFilesSignature(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	require.NoError(t, err)
	w := safetensors("w")
	for _, tc := range []struct {
		name     string
		oci      string
		bundle   []byte // the policy's bundle
		referrer bool   // the artifact carries a valid files bundle too
		layer    bool   // as a layer, model.sig among its files
		mfest    bool   // and a manifest signature
		kind     formats.Kind
	}{
		{"the policy's bundle signs the files", "", signFiles(t, key, map[string][]byte{"m.safetensors": w}), false, false, false, ""},
		{"the policy's bundle, the artifact's too", "", signFiles(t, key, map[string][]byte{"m.safetensors": w}), true, false, false, ""},
		// strict: the artifact's own model.sig is then one of its files,
		// which the policy's bundle does not list, as for a directory
		// holding model.sig verified with a bundle kept elsewhere.
		{"the policy's bundle, the artifact's model.sig an unsigned file", "", signFiles(t, key, map[string][]byte{"m.safetensors": w}), false, true, false, formats.KindDigestMismatch},
		{"the policy's bundle lists other bytes", "", signFiles(t, key, map[string][]byte{"m.safetensors": safetensors("v")}), true, false, false, formats.KindDigestMismatch},
		{"the policy's bundle lists other bytes, a good model.sig in the artifact", "", signFiles(t, key, map[string][]byte{"m.safetensors": safetensors("v")}), false, true, false, formats.KindDigestMismatch},
		{"the policy's bundle by another key", "", signFiles(t, other, map[string][]byte{"m.safetensors": w}), true, false, false, formats.KindSignatureInvalid},
		{"manifest and files", "  oci: [manifest, files]\n", signFiles(t, key, map[string][]byte{"m.safetensors": w}), false, false, true, ""},
		{"manifest and files, no manifest signature", "  oci: [manifest, files]\n", signFiles(t, key, map[string][]byte{"m.safetensors": w}), false, false, false, formats.KindNotAllowlisted},
		{"a bundle, only the manifest required", "  oci: [manifest]\n", signFiles(t, key, map[string][]byte{"m.safetensors": w}), false, false, true, formats.KindUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "release.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "model.sig"), tc.bundle, 0o644))
			p, err := verify.ParsePolicy([]byte("signatures:\n  keys: [release.pub]\n  bundle: model.sig\n"+tc.oci), dir)
			require.NoError(t, err)
			a := newModelPack()
			a.raw("m.safetensors", w)
			if tc.layer {
				a.layer(oci.ArtifactTypeSigstoreBundle, signFiles(t, key, map[string][]byte{"m.safetensors": w}), ocispec.AnnotationTitle, "model.sig")
			}
			md := a.manifest(t)
			descs := []ocispec.Descriptor{md}
			if tc.referrer {
				descs = append(descs, a.referrer(t, md, signFiles(t, key, map[string][]byte{"m.safetensors": w})))
			}
			if tc.mfest {
				descs = append(descs, a.signManifest(t, md, key))
			}
			descs[0].Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
			layout := a.writeIndex(t, descs...)
			m, err := oci.Open(context.Background(), "oci-layout:"+layout+":v1", oci.WithLoaderOptions(loader.WithPolicy(p)))
			if tc.kind != "" {
				assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
				return
			}
			require.NoError(t, err)
			defer m.Close()
			assert.NotEmpty(t, m.Verified.Signer)
		})
	}
}
