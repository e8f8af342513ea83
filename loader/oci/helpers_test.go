package oci_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/loader/oci"
)

// safetensors returns a valid one-tensor safetensors file.
func safetensors(name string) []byte {
	h := []byte(`{"` + name + `":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`)
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(out, h...)
	return append(out, 0, 0, 128, 63, 0, 0, 0, 64) // 1.0, 2.0
}

// artifact is an OCI artifact under construction.
type artifact struct {
	blobs map[digest.Digest][]byte
	man   ocispec.Manifest
}

// newModelPack starts a ModelPack artifact as the specification writes
// it: artifactType, the model config, and layers added by layer.
func newModelPack() *artifact {
	a := &artifact{blobs: map[digest.Digest][]byte{}}
	cfg := a.blob([]byte(`{"descriptor":{"name":"test"},"modelfs":{"type":"layers","diffIds":[]},"config":{"format":"safetensors"}}`))
	a.man = ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: oci.ArtifactTypeModelPack,
		Config:       ocispec.Descriptor{MediaType: oci.MediaTypeModelConfig, Digest: cfg, Size: int64(len(a.blobs[cfg]))},
	}
	return a
}

func (a *artifact) blob(b []byte) digest.Digest {
	d := digest.FromBytes(b)
	a.blobs[d] = b
	return d
}

// layer adds a layer of media type mt holding b, with annotations
// (key, value pairs).
func (a *artifact) layer(mt string, b []byte, ann ...string) *ocispec.Descriptor {
	d := ocispec.Descriptor{MediaType: mt, Digest: a.blob(b), Size: int64(len(b))}
	if len(ann) > 0 {
		d.Annotations = map[string]string{}
		for i := 0; i < len(ann); i += 2 {
			d.Annotations[ann[i]] = ann[i+1]
		}
	}
	a.man.Layers = append(a.man.Layers, d)
	return &a.man.Layers[len(a.man.Layers)-1]
}

// raw adds a ModelPack raw weight layer named name.
func (a *artifact) raw(name string, b []byte) *ocispec.Descriptor {
	return a.layer("application/vnd.cncf.model.weight.v1.raw", b, oci.AnnotationFilepath, name, ocispec.AnnotationTitle, filepath.Base(name))
}

// manifest stores the manifest and returns its descriptor.
func (a *artifact) manifest(t testing.TB) ocispec.Descriptor {
	b, err := json.Marshal(a.man)
	require.NoError(t, err)
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: a.man.ArtifactType, Digest: a.blob(b), Size: int64(len(b))}
}

// writeLayout writes an OCI image layout holding the artifact, its
// manifest tagged tag, and returns the layout directory and the
// manifest's digest.
func (a *artifact) writeLayout(t testing.TB, tag string) (string, digest.Digest) {
	t.Helper()
	md := a.manifest(t)
	md.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
	return a.writeIndex(t, md), md.Digest
}

// writeIndex writes the layout with index.json listing descs.
func (a *artifact) writeIndex(t testing.TB, descs ...ocispec.Descriptor) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755))
	for d, b := range a.blobs {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Encoded()), b, 0o644))
	}
	idx, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: descs})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
	return dir
}

// entry is one tar entry.
type entry struct {
	hdr  tar.Header
	data []byte
}

func file(name string, b []byte) entry {
	return entry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}, b}
}

func special(name string, typ byte, link string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: typ, Linkname: link, Mode: 0o644}}
}

// tarOf writes entries as a tar stream.
func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		require.NoError(t, tw.WriteHeader(&h))
		_, err := tw.Write(e.data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// gnuSparse returns a tar whose one entry is a GNU sparse file ('S',
// one region holding b), which archive/tar's writer does not produce.
func gnuSparse(t testing.TB, name string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(b)), Mode: 0o644, Format: tar.FormatGNU}))
	_, err := tw.Write(b)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	out := buf.Bytes()
	out[156] = tar.TypeGNUSparse
	octal := func(off, n int, v int64) { copy(out[off:off+n], fmt.Sprintf("%0*o\x00", n-1, v)) }
	octal(386, 12, 0)               // region 0 offset
	octal(398, 12, int64(len(b)))   // region 0 bytes
	octal(483, 12, int64(len(b))*4) // real size
	copy(out[148:156], "        ")
	var sum int64
	for _, c := range out[:512] {
		sum += int64(c)
	}
	copy(out[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return out
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	w, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer w.Close()
	return w.EncodeAll(b, nil)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
