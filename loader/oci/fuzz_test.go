package oci_test

import (
	"archive/tar"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader/oci"
)

// FuzzTarLayer opens artifacts whose one layer is arbitrary tar bytes:
// never a panic, always a kind, and an accepted one is fully allowlisted.
func FuzzTarLayer(f *testing.F) {
	w := safetensors("w")
	f.Add(tarOf(f, file("m.safetensors", w)))
	f.Add(tarOf(f, special("d/", tar.TypeDir, ""), file("d/m.safetensors", w)))
	f.Add(tarOf(f, file("../m.safetensors", w)))
	f.Add(tarOf(f, special("m.safetensors", tar.TypeSymlink, "/etc/passwd")))
	f.Add(gnuSparse(f, "m.safetensors", w))
	f.Add(paxTar("m.safetensors", w, "GNU.sparse.numblocks", "1", "GNU.sparse.map", "0,8", "GNU.sparse.size", "64"))
	f.Add(paxTar("m.safetensors", w, "mtime", "1700000000.5"))
	f.Add(tarOf(f, file("a.txt", []byte("a\n")), special("b.txt", tar.TypeLink, "a.txt")))
	for _, fx := range layerFixtures(f) {
		if !strings.HasSuffix(fx.file, ".gz") {
			f.Add(fx.tar)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a := newModelPack()
		a.layer("application/vnd.cncf.model.weight.v1.tar", b)
		dir, _ := a.writeLayout(t, "v1")
		m, err := oci.Open(context.Background(), dir)
		if err != nil {
			require.NotEmpty(t, formats.KindOf(err), "%v", err)
			return
		}
		defer m.Close()
		require.True(t, m.Verified.Allowlisted)
	})
}

// FuzzParseReference: a reference that parses prints as itself and
// parses again to the same value.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"oci://127.0.0.1:5000/models/x:v1", "oci://r.example/a/b@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"oci-layout:dir:v1", "oci-layout:d@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "oci://x", "oci-layout:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := oci.ParseReference(s)
		if err != nil {
			require.Equal(t, formats.KindMalformed, formats.KindOf(err))
			return
		}
		if r.Layout != "" && r.Tag == "" && r.Digest == "" && s[:min(len(s), 11)] != "oci-layout:" {
			return // a bare layout directory
		}
		r2, err := oci.ParseReference(r.String())
		require.NoError(t, err, r.String())
		require.Equal(t, r, r2)
	})
}
