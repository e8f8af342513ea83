package oci_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// Each ModelPack layer type unpacks and gates, by tag and by digest, and
// every file of the tree is approved by the manifest.
func TestModelPackLayerTypesOpen(t *testing.T) {
	w := safetensors("w")
	tr := tarOf(t, special("sub/", tar.TypeDir, ""), file("sub/model.safetensors", w))
	cases := []struct {
		name  string
		build func(a *artifact)
	}{
		{"raw", func(a *artifact) { a.raw("sub/model.safetensors", w) }},
		{"tar", func(a *artifact) { a.layer("application/vnd.cncf.model.weight.v1.tar", tr) }},
		{"tar+gzip", func(a *artifact) { a.layer("application/vnd.cncf.model.weight.v1.tar+gzip", gz(t, tr)) }},
		{"tar+zstd", func(a *artifact) { a.layer("application/vnd.cncf.model.weight.v1.tar+zstd", zst(t, tr)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newModelPack()
			tc.build(a)
			dir, md := a.writeLayout(t, "v1")
			for _, ref := range []string{"oci-layout:" + dir + ":v1", "oci-layout:" + dir + "@" + md.String(), dir} {
				m, err := oci.Open(context.Background(), ref)
				require.NoError(t, err, ref)
				assert.Equal(t, md, m.Manifest.Digest)
				_, ok := m.Tensor("w")
				assert.True(t, ok)
				assert.True(t, m.Verified.Allowlisted, "every file approved by the manifest's digests")
				require.Len(t, m.Verified.Digests, 1)
				assert.Equal(t, "sub/model.safetensors", m.Verified.Digests[0].Name)
				want := sha256.Sum256(w) // what the layer holds for the file, checked while streaming
				assert.Equal(t, hex.EncodeToString(want[:]), m.Verified.Digests[0].SHA256.String())
				assert.Equal(t, []string{"sub/model.safetensors"}, m.Layers[0].Files)
				unpacked := m.Dir()
				require.NoError(t, m.Close())
				assert.NoDirExists(t, unpacked, "Close removes the unpacked files")
			}
		})
	}
}

// A raw layer's file is approved by the layer's own digest: the sha256
// the loader computes over the file is the layer's.
func TestRawLayerApprovedByLayerDigest(t *testing.T) {
	a := newModelPack()
	l := a.raw("model.safetensors", safetensors("w"))
	dir, _ := a.writeLayout(t, "v1")
	m, err := oci.Open(context.Background(), dir)
	require.NoError(t, err)
	defer m.Close()
	require.Len(t, m.Verified.Digests, 1)
	assert.Equal(t, l.Digest.Encoded(), m.Verified.Digests[0].SHA256.String())
}

// Every hostile artifact is refused, with its kind.
func TestHostileArtifactsRefused(t *testing.T) {
	w := safetensors("w")
	tarLayer := func(entries ...entry) func(a *artifact) {
		return func(a *artifact) { a.layer("application/vnd.cncf.model.weight.v1.tar", tarOf(t, entries...)) }
	}
	zeros := make([]byte, 64<<20)
	cases := []struct {
		name  string
		build func(a *artifact)
		opts  []oci.Option
		kind  formats.Kind
	}{
		{"tar slip", tarLayer(file("../evil.safetensors", w)), nil, formats.KindPathTraversal},
		{"tar slip inside a name", tarLayer(file("a/../../evil", w)), nil, formats.KindPathTraversal},
		{"absolute name", tarLayer(file("/etc/evil", w)), nil, formats.KindPathTraversal},
		{"backslash name", tarLayer(file(`..\evil`, w)), nil, formats.KindPathTraversal},
		{"symlink out", tarLayer(special("model.safetensors", tar.TypeSymlink, "../../../etc/passwd")), nil, formats.KindPathTraversal},
		{"absolute symlink", tarLayer(special("model.safetensors", tar.TypeSymlink, "/etc/passwd")), nil, formats.KindPathTraversal},
		{"hard link to /etc/passwd", tarLayer(special("model.safetensors", tar.TypeLink, "/etc/passwd")), nil, formats.KindPathTraversal},
		{"hard link up", tarLayer(special("model.safetensors", tar.TypeLink, "../passwd")), nil, formats.KindPathTraversal},
		{"symlink inside", tarLayer(file("a.safetensors", w), special("b.safetensors", tar.TypeSymlink, "a.safetensors")), nil, formats.KindPathTraversal},
		{"symlink to a directory inside", tarLayer(file("d/a.safetensors", w), special("e", tar.TypeSymlink, "d")), nil, formats.KindPathTraversal},
		{"hard link to a directory", tarLayer(file("d/a.safetensors", w), special("b.safetensors", tar.TypeLink, "d")), nil, formats.KindMalformed},
		{"hard link to a later entry", tarLayer(special("b.safetensors", tar.TypeLink, "a.safetensors"), file("a.safetensors", w)), nil, formats.KindMalformed},
		{"hard link to a missing name", tarLayer(file("a.safetensors", w), special("b.safetensors", tar.TypeLink, "c.safetensors")), nil, formats.KindMalformed},
		{"hard link onto an unpacked name", tarLayer(file("a.safetensors", w), special("a.safetensors", tar.TypeLink, "a.safetensors")), nil, formats.KindMalformed},
		{"hard links past MaxUnpackedBytes", tarLayer(file("a.safetensors", w), special("b.safetensors", tar.TypeLink, "a.safetensors"),
			special("c.safetensors", tar.TypeLink, "a.safetensors")), []oci.Option{oci.WithLimits(oci.Limits{MaxUnpackedBytes: int64(2 * len(w))})}, formats.KindLimitExceeded},
		{"character device", tarLayer(special("null", tar.TypeChar, "")), nil, formats.KindUnsupported},
		{"block device", tarLayer(special("sda", tar.TypeBlock, "")), nil, formats.KindUnsupported},
		{"fifo", tarLayer(special("pipe", tar.TypeFifo, "")), nil, formats.KindUnsupported},
		{"whiteout", tarLayer(file("a/.wh.model.safetensors", nil)), nil, formats.KindUnsupported},
		{"opaque whiteout", tarLayer(file(".wh..wh..opq", nil)), nil, formats.KindUnsupported},
		{"duplicate name in a tar", tarLayer(file("m.safetensors", w), file("m.safetensors", w)), nil, formats.KindMalformed},
		{"duplicate name across layers", func(a *artifact) {
			a.raw("m.safetensors", w)
			tarLayer(file("m.safetensors", w))(a)
		}, nil, formats.KindMalformed},
		{"file and directory of one name", tarLayer(file("m", w), file("m/x.safetensors", w)), nil, formats.KindMalformed},
		{"PAX global header", tarLayer(entry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "g", PAXRecords: map[string]string{"path": "../x"}}}), nil, formats.KindUnsupported},
		{"GNU sparse entry", func(a *artifact) {
			a.layer("application/vnd.cncf.model.weight.v1.tar", gnuSparse(t, "m.safetensors", w))
		}, nil, formats.KindUnsupported},
		{"gzip bomb", func(a *artifact) {
			a.layer("application/vnd.cncf.model.weight.v1.tar+gzip", gz(t, tarOf(t, file("z.safetensors", zeros))))
		}, nil, formats.KindLimitExceeded},
		{"gzip layer with bytes after its last member", func(a *artifact) {
			a.layer("application/vnd.cncf.model.weight.v1.tar+gzip", append(gz(t, tarOf(t, file("m.safetensors", w))), "garbage"...))
		}, nil, formats.KindMalformed},
		{"gzip layer whose checksum fails after the tar's end", func(a *artifact) {
			b := gz(t, tarOf(t, file("m.safetensors", w)))
			b[len(b)-8] ^= 1 // the member's CRC-32
			a.layer("application/vnd.cncf.model.weight.v1.tar+gzip", b)
		}, nil, formats.KindMalformed},
		{"zstd layer with bytes after its last frame", func(a *artifact) {
			a.layer("application/vnd.cncf.model.weight.v1.tar+zstd", append(zst(t, tarOf(t, file("m.safetensors", w))), "garbage"...))
		}, nil, formats.KindMalformed},
		{"zstd bomb", func(a *artifact) {
			a.layer("application/vnd.cncf.model.weight.v1.tar+zstd", zst(t, tarOf(t, file("z.safetensors", zeros))))
		}, nil, formats.KindLimitExceeded},
		{"over MaxUnpackedBytes", tarLayer(file("m.safetensors", w)), []oci.Option{oci.WithLimits(oci.Limits{MaxUnpackedBytes: 10})}, formats.KindLimitExceeded},
		{"over MaxEntries", tarLayer(file("a", w), file("b", w)), []oci.Option{oci.WithLimits(oci.Limits{MaxEntries: 1})}, formats.KindLimitExceeded},
		{"layer digest does not match the blob", func(a *artifact) {
			l := a.raw("m.safetensors", w)
			evil := safetensors("x")
			a.blobs[l.Digest] = evil // same length, other bytes
		}, nil, formats.KindDigestMismatch},
		{"tar slip in a blob that is not the manifest's", func(a *artifact) {
			l := a.layer("application/vnd.cncf.model.weight.v1.tar", tarOf(t, file("m.safetensors", w)))
			a.blobs[l.Digest] = tarOf(t, file("../m.safetensors", w))
		}, nil, formats.KindDigestMismatch},
		{"tar layer whose blob is not the manifest's", func(a *artifact) {
			l := a.layer("application/vnd.cncf.model.weight.v1.tar", tarOf(t, file("m.safetensors", w)))
			a.blobs[l.Digest] = tarOf(t, file("m.safetensors", safetensors("x")))
		}, nil, formats.KindDigestMismatch},
		{"layer size smaller than the blob", func(a *artifact) { a.raw("m.safetensors", w).Size-- }, nil, formats.KindDigestMismatch},
		{"unknown layer media type", func(a *artifact) {
			a.layer("application/vnd.example.weights", w, ocispec.AnnotationTitle, "m.safetensors")
		}, nil, formats.KindUnsupported},
		{"unknown artifact type", func(a *artifact) {
			a.raw("m.safetensors", w)
			a.man.ArtifactType = "application/vnd.example.thing"
		}, nil, formats.KindUnsupported},
		{"raw layer with no name", func(a *artifact) { a.layer("application/vnd.cncf.model.weight.v1.raw", w) }, nil, formats.KindMalformed},
		{"raw layer named ../", func(a *artifact) {
			a.layer("application/vnd.cncf.model.weight.v1.raw", w, oci.AnnotationFilepath, "../m.safetensors")
		}, nil, formats.KindPathTraversal},
		{"raw layer annotations disagree", func(a *artifact) {
			a.layer("application/vnd.cncf.model.weight.v1.raw", w, oci.AnnotationFilepath, "a.safetensors", ocispec.AnnotationTitle, "b.safetensors")
		}, nil, formats.KindMalformed},
		{"pickle inside a layer", tarLayer(file("pytorch_model.bin", []byte("\x80\x02}q\x00."))), nil, formats.KindPickle},
		{"tag with a digest pin required", func(a *artifact) { a.raw("m.safetensors", w) }, []oci.Option{oci.RequireDigest()}, formats.KindNotAllowlisted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newModelPack()
			tc.build(a)
			dir, _ := a.writeLayout(t, "v1")
			m, err := oci.Open(context.Background(), "oci-layout:"+dir+":v1", tc.opts...)
			if m != nil {
				m.Close()
			}
			require.Error(t, err)
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
		})
	}
}

// A layer type the caller names is accepted; the rules still apply.
func TestNamedMediaTypeAccepted(t *testing.T) {
	a := newModelPack()
	a.layer("application/vnd.example.weights", safetensors("w"), ocispec.AnnotationTitle, "m.safetensors")
	dir, _ := a.writeLayout(t, "v1")
	m, err := oci.Open(context.Background(), dir, oci.WithMediaTypes("application/vnd.example.weights"))
	require.NoError(t, err)
	m.Close()
}

// An index listing several platforms is refused without a platform
// choice, and opens with one.
func TestIndexNeedsPlatformChoice(t *testing.T) {
	a := newModelPack()
	a.raw("m.safetensors", safetensors("w"))
	amd := a.manifest(t)
	amd.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	a.man.Layers = nil
	a.raw("m.safetensors", safetensors("v"))
	arm := a.manifest(t)
	arm.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{amd, arm}}
	idx.SchemaVersion = 2
	ib, err := jsonMarshal(idx)
	require.NoError(t, err)
	id := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: a.blob(ib), Size: int64(len(ib)), Annotations: map[string]string{ocispec.AnnotationRefName: "v1"}}
	dir := a.writeIndex(t, id)

	_, err = oci.Open(context.Background(), "oci-layout:"+dir+":v1")
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%v", err)
	_, err = oci.Open(context.Background(), "oci-layout:"+dir+":v1", oci.WithPlatform("linux/riscv64"))
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%v", err)
	m, err := oci.Open(context.Background(), "oci-layout:"+dir+":v1", oci.WithPlatform("linux/arm64"))
	require.NoError(t, err)
	defer m.Close()
	assert.Equal(t, arm.Digest, m.Manifest.Digest)
	_, ok := m.Tensor("v")
	assert.True(t, ok)
}

// A manifest whose bytes are not the digest the index names is refused.
func TestManifestDigestMismatch(t *testing.T) {
	a := newModelPack()
	a.raw("m.safetensors", safetensors("w"))
	md := a.manifest(t)
	a.man.Annotations = map[string]string{"x": "swapped"}
	b, err := jsonMarshal(a.man)
	require.NoError(t, err)
	a.blobs[md.Digest] = b
	md.Size = int64(len(b))
	md.Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
	dir := a.writeIndex(t, md)
	_, err = oci.Open(context.Background(), dir)
	assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), "%v", err)
}

// A Docker model artifact (docker/model-distribution's config and GGUF
// layer, which carries no name annotation) opens: its GGUF file is named
// by its digest.
func TestDockerModelArtifactOpens(t *testing.T) {
	g, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gguf", "align64.gguf"))
	require.NoError(t, err)
	a := newModelPack()
	a.man.ArtifactType = ""
	cfg := a.blob([]byte(`{"config":{"format":"gguf"},"descriptor":{},"rootfs":{"type":"rootfs","diff_ids":[]}}`))
	a.man.Config = ocispec.Descriptor{MediaType: oci.MediaTypeDockerConfig, Digest: cfg, Size: int64(len(a.blobs[cfg]))}
	l := a.layer(oci.MediaTypeDockerGGUF, g)
	dir, _ := a.writeLayout(t, "latest")
	m, err := oci.Open(context.Background(), dir)
	require.NoError(t, err)
	defer m.Close()
	require.Len(t, m.Files, 1)
	assert.Equal(t, l.Digest.Encoded()+".gguf", m.Files[0].Name)
}

// A caller's allowlist stays in charge: a file of the artifact it does not
// list is refused, as in a directory, though the manifest approves it.
func TestCallerAllowlistGoverns(t *testing.T) {
	w, v := safetensors("w"), safetensors("v")
	a := newModelPack()
	a.raw("a.safetensors", w)
	a.raw("b.safetensors", v)
	dir, _ := a.writeLayout(t, "v1")
	sum := func(b []byte) verify.Digest { return verify.Digest(sha256.Sum256(b)) }
	only, err := verify.NewAllowlist(verify.NewEntry("a.safetensors", verify.SHA256, sum(w)))
	require.NoError(t, err)
	_, err = oci.Open(context.Background(), dir, oci.WithLoaderOptions(loader.WithAllowlist(only)))
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "%v", err)

	both, err := verify.NewAllowlist(verify.NewEntry("a.safetensors", verify.SHA256, sum(w)), verify.NewEntry("b.safetensors", verify.SHA256, sum(v)))
	require.NoError(t, err)
	m, err := oci.Open(context.Background(), dir, oci.WithLoaderOptions(loader.WithAllowlist(both)))
	require.NoError(t, err)
	m.Close()
}
