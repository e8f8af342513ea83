package oci_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader/oci"
)

var update = flag.Bool("update", false, "rewrite testdata/layers (the layer fixtures and EXPECT) from the table in fixtures_test.go")

// layersDir holds the tar layer fixtures, as files other modules' tests
// (interop/containerd, against containerd's archive.Apply) read too, and
// EXPECT, modelgate's verdict on each.
const layersDir = "testdata/layers"

// layerFixture is one tar layer (a .tar.gz one is a tar+gzip layer) and
// modelgate's verdict on it: "ok", or the kind of its refusal.
type layerFixture struct {
	file    string
	tar     []byte
	verdict string
}

// layerFixtures are the benign and hostile tar layers, small, each named
// after what it holds.
func layerFixtures(t testing.TB) []layerFixture {
	w, v := safetensors("w"), safetensors("v")
	lic := []byte("Apache License 2.0\n")
	n := fmt.Sprint(len(w))
	map10 := pad512([]byte("1\n0\n" + n + "\n"))
	dir := func(name string) entry { return special(name, tar.TypeDir, "") }
	dev := func(name string, typ byte) entry {
		e := special(name, typ, "")
		e.hdr.Devmajor, e.hdr.Devminor = 1, 3 // /dev/null
		return e
	}
	// A header that says 5 bytes before 12 bytes of data in its block:
	// every tar reader reads 5 and skips the rest as the block's padding.
	short := ustar("README.md", tar.TypeReg, 5, "")
	short = append(short, pad512([]byte("hello world\n"))...)
	short = append(short, make([]byte, 1024)...)
	// A header that says 1000 bytes, then the archive ends after 80.
	truncated := append(ustar("m.safetensors", tar.TypeReg, 1000, ""), w...)
	ok := "ok"
	return []layerFixture{
		{"plain-files.tar", tarOf(t, file("m.safetensors", w), file("LICENSE", lic), file("config.json", []byte(`{"dim":2}`))), ok},
		{"plain-files.tar.gz", gz(t, tarOf(t, file("m.safetensors", w), file("LICENSE", lic))), ok},
		{"nested-folders.tar", tarOf(t, dir("./"), dir("./a/"), dir("./a/b/"), file("./a/b/m.safetensors", w), dir("c/"), dir("c/d/"),
			file("c/d/v.safetensors", v), file("e/f/LICENSE", lic)), ok},
		{"hardlink-inside.tar", tarOf(t, file("m.safetensors", w), file("LICENSE", lic), special("LICENSE.txt", tar.TypeLink, "LICENSE"),
			special("docs/LICENSE", tar.TypeLink, "./LICENSE")), ok},
		{"header-shorter-than-data.tar", short, ok},
		{"symlink-inside.tar", tarOf(t, file("a.safetensors", w), special("b.safetensors", tar.TypeSymlink, "a.safetensors")), string(formats.KindPathTraversal)},
		{"tar-slip.tar", tarOf(t, file("../evil.safetensors", w)), string(formats.KindPathTraversal)},
		{"tar-slip-inside-name.tar", tarOf(t, file("a/../../evil.safetensors", w)), string(formats.KindPathTraversal)},
		{"absolute-name.tar", tarOf(t, file("/etc/evil.safetensors", w)), string(formats.KindPathTraversal)},
		{"symlink-out.tar", tarOf(t, special("m.safetensors", tar.TypeSymlink, "/etc/passwd")), string(formats.KindPathTraversal)},
		{"symlink-out-relative.tar", tarOf(t, special("m.safetensors", tar.TypeSymlink, "../../../etc/passwd")), string(formats.KindPathTraversal)},
		{"symlink-dir-then-file.tar", tarOf(t, special("d", tar.TypeSymlink, "/tmp"), file("d/evil.safetensors", w)), string(formats.KindPathTraversal)},
		{"hardlink-etc-passwd.tar", tarOf(t, special("m.safetensors", tar.TypeLink, "/etc/passwd")), string(formats.KindPathTraversal)},
		{"hardlink-up.tar", tarOf(t, special("m.safetensors", tar.TypeLink, "../../../etc/passwd")), string(formats.KindPathTraversal)},
		{"hardlink-to-missing.tar", tarOf(t, file("a.safetensors", w), special("b.safetensors", tar.TypeLink, "c.safetensors")), string(formats.KindMalformed)},
		{"hardlink-to-directory.tar", tarOf(t, file("d/a.safetensors", w), special("b.safetensors", tar.TypeLink, "d")), string(formats.KindMalformed)},
		{"char-device.tar", tarOf(t, file("m.safetensors", w), dev("null", tar.TypeChar)), string(formats.KindUnsupported)},
		{"block-device.tar", tarOf(t, file("m.safetensors", w), dev("sda", tar.TypeBlock)), string(formats.KindUnsupported)},
		{"fifo.tar", tarOf(t, file("m.safetensors", w), special("pipe", tar.TypeFifo, "")), string(formats.KindUnsupported)},
		{"whiteout.tar", tarOf(t, file("a.safetensors", w), file("b.safetensors", v), file(".wh.a.safetensors", nil)), string(formats.KindUnsupported)},
		{"opaque-whiteout.tar", tarOf(t, file("d/a.safetensors", w), file("d/.wh..wh..opq", nil), file("d/b.safetensors", v)), string(formats.KindUnsupported)},
		{"duplicate-name.tar", tarOf(t, file("m.safetensors", w), file("m.safetensors", v)), string(formats.KindMalformed)},
		{"file-and-directory.tar", tarOf(t, file("m", w), file("m/x.safetensors", v)), string(formats.KindMalformed)},
		{"pax-global-header.tar", tarOf(t, entry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "g", PAXRecords: map[string]string{"path": "../x"}}},
			file("m.safetensors", w)), string(formats.KindUnsupported)},
		{"gnu-sparse.tar", gnuSparse(t, "m.safetensors", w), string(formats.KindUnsupported)},
		{"pax-sparse-0.0.tar", paxTar("m.safetensors", w, "GNU.sparse.size", fmt.Sprint(4*len(w)), "GNU.sparse.numblocks", "1",
			"GNU.sparse.offset", "0", "GNU.sparse.numbytes", n), string(formats.KindUnsupported)},
		{"pax-sparse-0.1.tar", paxTar("m.safetensors", w, "GNU.sparse.size", fmt.Sprint(4*len(w)), "GNU.sparse.numblocks", "1",
			"GNU.sparse.map", "0,"+n), string(formats.KindUnsupported)},
		{"pax-sparse-1.0.tar", paxTar("GNUSparseFile.0/m.safetensors", append(map10, w...), "GNU.sparse.major", "1", "GNU.sparse.minor", "0",
			"GNU.sparse.name", "m.safetensors", "GNU.sparse.realsize", fmt.Sprint(4*len(w))), string(formats.KindUnsupported)},
		// 4 MiB of zeros in about 4 KiB: past MaxRatio=200 (times the
		// layer's size, plus 1 MiB).
		{"gzip-ratio.tar.gz", gz(t, tarOf(t, file("z.safetensors", make([]byte, 4<<20)))), string(formats.KindLimitExceeded)},
		{"truncated.tar", truncated, string(formats.KindMalformed)},
		{"dotdot-inside-root.tar", tarOf(t, file("a/../m.safetensors", w)), string(formats.KindPathTraversal)},
		{"double-slash.tar", tarOf(t, file("a//m.safetensors", w)), string(formats.KindPathTraversal)},
		{"pax-path-slip.tar", paxTar("m.safetensors", w, "path", "../evil.safetensors"), string(formats.KindPathTraversal)},
		// What follows a tar's end (two zero blocks) is no entry: a file
		// hidden there, and bytes after a gzip member's end.
		{"entry-after-end.tar", append(tarOf(t, file("m.safetensors", w)), tarOf(t, file("hidden.safetensors", v))...), ok},
		{"gzip-trailing-garbage.tar.gz", append(gz(t, tarOf(t, file("m.safetensors", w))), "garbage"...), string(formats.KindMalformed)},
		// Metadata other unpackers apply and modelgate does not: an
		// extended attribute (containerd sets it) and a contiguous file.
		{"pax-xattr.tar", tarOf(t, entry{tar.Header{Name: "m.safetensors", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(w)),
			PAXRecords: map[string]string{"SCHILY.xattr.user.modelgate": "x"}}, w}), ok},
		{"contiguous-file.tar", append(append(ustar("m.safetensors", tar.TypeCont, int64(len(w)), ""), pad512(bytes.Clone(w))...), make([]byte, 1024)...), string(formats.KindUnsupported)},
	}
}

// expectLine is one line of EXPECT.
func expectLine(f layerFixture) string { return f.file + " " + f.verdict }

const expectHeader = "# modelgate's verdict on each layer fixture: ok, or the kind of its refusal.\n" +
	"# Written by go test ./loader/oci -run TestWriteLayerFixtures -update; read by interop/containerd.\n"

// The fixtures on disk are the ones the table makes (a .tar.gz compared
// once decompressed, as gzip's bytes may change with Go's version), and
// EXPECT says the table's verdicts; -update rewrites both.
func TestWriteLayerFixtures(t *testing.T) {
	fixtures := layerFixtures(t)
	var expect strings.Builder
	expect.WriteString(expectHeader)
	for _, f := range fixtures {
		expect.WriteString(expectLine(f) + "\n")
	}
	if *update {
		require.NoError(t, os.RemoveAll(layersDir))
		require.NoError(t, os.MkdirAll(layersDir, 0o755))
		for _, f := range fixtures {
			require.NoError(t, os.WriteFile(filepath.Join(layersDir, f.file), f.tar, 0o644))
		}
		require.NoError(t, os.WriteFile(filepath.Join(layersDir, "EXPECT"), []byte(expect.String()), 0o644))
	}
	got, err := os.ReadFile(filepath.Join(layersDir, "EXPECT"))
	require.NoError(t, err, "run go test ./loader/oci -run TestWriteLayerFixtures -update")
	assert.Equal(t, expect.String(), string(got), "EXPECT is stale: -update")
	names := []string{"EXPECT"}
	for _, f := range fixtures {
		names = append(names, f.file)
		b, err := os.ReadFile(filepath.Join(layersDir, f.file))
		require.NoError(t, err, "run go test ./loader/oci -run TestWriteLayerFixtures -update")
		assert.Equal(t, plainTar(t, f.file, f.tar), plainTar(t, f.file, b), "%s is stale: -update", f.file)
	}
	ents, err := os.ReadDir(layersDir)
	require.NoError(t, err)
	for _, e := range ents {
		assert.True(t, slices.Contains(names, e.Name()), "%s is no fixture of the table", e.Name())
	}
}

// plainTar is a fixture's tar stream (a .tar.gz's first gzip member
// decompressed, then the bytes that follow it).
func plainTar(t testing.TB, name string, b []byte) []byte {
	if !strings.HasSuffix(name, ".gz") {
		return b
	}
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	require.NoError(t, err)
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	return append(append(out, "\x00after the member:"...), rest...)
}

// Modelgate's verdict on each fixture on disk, unpacked through oci.Open
// from a layout holding it as a ModelPack weight layer, is EXPECT's.
func TestLayerFixturesAsExpected(t *testing.T) {
	f, err := os.Open(filepath.Join(layersDir, "EXPECT"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	seen := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, want, ok := strings.Cut(line, " ")
		require.True(t, ok, "EXPECT line %q", line)
		seen++
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(layersDir, name))
			require.NoError(t, err)
			mt := "application/vnd.cncf.model.weight.v1.tar"
			if strings.HasSuffix(name, ".gz") {
				mt += "+gzip"
			}
			a := newModelPack()
			a.layer(mt, b)
			dir, _ := a.writeLayout(t, "v1")
			m, err := oci.Open(context.Background(), dir)
			got := "ok"
			if err != nil {
				got = string(formats.KindOf(err))
			} else {
				m.Close()
			}
			assert.Equal(t, want, got, "%v", err)
		})
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, len(layerFixtures(t)), seen, "EXPECT lists every fixture")
}
