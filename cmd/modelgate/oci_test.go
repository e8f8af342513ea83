//go:build !modelgate_lean

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rogpeppe/go-internal/testscript"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	ocilayout "oras.land/oras-go/v2/content/oci"

	"github.com/modelgate/modelgate/loader/oci"
)

// mkoci DIR TAG FILE... writes, with oras-go, an OCI image layout at DIR
// holding a ModelPack artifact (one raw weight layer per FILE, named by
// its base name) tagged TAG, and sets $DIGEST to its manifest's digest.
func mkoci(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: mkoci DIR TAG FILE...")
	}
	ctx := context.Background()
	store, err := ocilayout.New(ts.MkAbs(args[0]))
	ts.Check(err)
	push := func(mt string, b []byte, ann map[string]string) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mt, b)
		d.Annotations = ann
		ts.Check(store.Push(ctx, d, bytes.NewReader(b)))
		return d
	}
	var layers []ocispec.Descriptor
	for _, f := range args[2:] {
		b, err := os.ReadFile(ts.MkAbs(f))
		ts.Check(err)
		name := filepath.Base(f)
		layers = append(layers, push("application/vnd.cncf.model.weight.v1.raw", b,
			map[string]string{oci.AnnotationFilepath: name, ocispec.AnnotationTitle: name}))
	}
	cfg := push(oci.MediaTypeModelConfig, []byte(`{"descriptor":{"name":"mkoci"},"modelfs":{"type":"layers","diffIds":[]},"config":{}}`), nil)
	man, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, oci.ArtifactTypeModelPack,
		oras.PackManifestOptions{Layers: layers, ConfigDescriptor: &cfg})
	ts.Check(err)
	ts.Check(store.Tag(ctx, man, args[1]))
	ts.Setenv("DIGEST", man.Digest.String())
}
