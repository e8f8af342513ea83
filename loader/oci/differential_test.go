package oci_test

import (
	"archive/tar"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader/oci"
)

// orasUnpack is the annotation oras push puts on a directory's tar+gzip
// layer, and that oras pull (oras-go content/file) unpacks by.
const orasUnpack = "io.deis.oras.content.unpack"

// treeOf reads every regular file under dir (name -> bytes), and each
// symbolic link as "-> target".
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			out[filepath.ToSlash(rel)] = "-> " + target
			return err
		}
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	}))
	return out
}

// Differential test against the real oras CLI (v1.3.6): what oras pull
// writes for a ModelPack artifact (a raw layer by its title, a directory
// layer unpacked as oras push made it, a hand-made one with a hard link)
// is file for file and byte for byte what modelgate unpacks and gates;
// and every hostile layer, unpacked by oras pull as oras push would mark
// it, is refused by modelgate with its kind, whatever oras does with it
// (logged).
func TestRegistryOrasPullAgrees(t *testing.T) {
	r := startRegistry(t)
	bin := orasBin(t)
	r.dockerConfig(t, r.host)
	ctx := context.Background()
	w, lic := safetensors("w"), "Apache License 2.0\n"
	oras := func(dir string, args ...string) error {
		cmd := exec.Command(bin, append(args[:1:1], append([]string{"--plain-http", "-u", r.user, "-p", r.pass}, args[1:]...)...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return &orasError{err, string(out)}
		}
		return nil
	}
	dirLayer := func(a *artifact, b []byte) {
		a.layer("application/vnd.cncf.model.weight.v1.tar+gzip", gz(t, b), ocispec.AnnotationTitle, "d", orasUnpack, "true")
	}

	t.Run("benign", func(t *testing.T) {
		// A directory pushed by the oras CLI itself.
		work := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(work, "tok", "sub"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(work, "tok", "extra.safetensors"), w, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(work, "tok", "sub", "LICENSE"), []byte(lic), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(work, "model.safetensors"), safetensors("v"), 0o644))
		require.NoError(t, oras(work, "push", r.host+"/diff/cli:v1", "--artifact-type", oci.ArtifactTypeModelPack,
			"model.safetensors:application/vnd.cncf.model.weight.v1.raw", "tok:application/vnd.cncf.model.weight.v1.tar+gzip"))
		// A hand-made layer with directories and a hard link inside.
		a := newModelPack()
		dirLayer(a, tarOf(t, special("d/", tar.TypeDir, ""), file("d/m.safetensors", w), file("d/LICENSE", []byte(lic)),
			special("d/docs/", tar.TypeDir, ""), special("d/docs/LICENSE", tar.TypeLink, "d/LICENSE")))
		r.push(t, a, "diff/hand", "v1")

		for _, repo := range []string{"diff/cli", "diff/hand"} {
			out := t.TempDir()
			require.NoError(t, oras(out, "pull", r.host+"/"+repo+":v1"), repo)
			m, err := oci.Open(ctx, "oci://"+r.host+"/"+repo+":v1")
			require.NoError(t, err, repo)
			got := treeOf(t, m.Dir())
			assert.Equal(t, treeOf(t, out), got, "%s: oras pull and modelgate unpack the same files and bytes", repo)
			assert.Len(t, m.Verified.Digests, len(got), "%s: every file gated", repo)
			m.Close()
		}
	})

	map01 := []string{"GNU.sparse.numblocks", "1", "GNU.sparse.map", "0,8", "GNU.sparse.size", "64"}
	for _, tc := range []struct {
		name string
		tar  []byte
		kind formats.Kind
	}{
		{"tar slip", tarOf(t, file("d/../../evil.safetensors", w)), formats.KindPathTraversal},
		{"symlink out", tarOf(t, special("d/m.safetensors", tar.TypeSymlink, "/etc/passwd")), formats.KindPathTraversal},
		{"symlink inside", tarOf(t, file("d/a.safetensors", w), special("d/b.safetensors", tar.TypeSymlink, "a.safetensors")), formats.KindPathTraversal},
		{"hard link to /etc/passwd", tarOf(t, special("d/m.safetensors", tar.TypeLink, "/etc/passwd")), formats.KindPathTraversal},
		{"hard link up", tarOf(t, special("d/m.safetensors", tar.TypeLink, "../../passwd")), formats.KindPathTraversal},
		{"character device", tarOf(t, file("d/m.safetensors", w), special("d/null", tar.TypeChar, "")), formats.KindUnsupported},
		{"fifo", tarOf(t, file("d/m.safetensors", w), special("d/pipe", tar.TypeFifo, "")), formats.KindUnsupported},
		{"whiteout", tarOf(t, file("d/m.safetensors", w), file("d/.wh.x", nil)), formats.KindUnsupported},
		{"duplicate name", tarOf(t, file("d/m.safetensors", w), file("d/m.safetensors", safetensors("x"))), formats.KindMalformed},
		{"PAX global header", tarOf(t, entry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "g", PAXRecords: map[string]string{"comment": "x"}}},
			file("d/m.safetensors", w)), formats.KindUnsupported},
		{"PAX sparse 0.1", paxTar("d/m.safetensors", w[:8], map01...), formats.KindUnsupported},
		{"GNU sparse", gnuSparse(t, "d/m.safetensors", w), formats.KindUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := "diff/" + sanitize(tc.name)
			a := newModelPack()
			dirLayer(a, tc.tar)
			r.push(t, a, repo, "v1")
			_, err := oci.Open(ctx, "oci://"+r.host+"/"+repo+":v1")
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)

			out := t.TempDir()
			if err := oras(out, "pull", r.host+"/"+repo+":v1"); err != nil {
				t.Logf("oras pull refuses it: %v", err)
				return
			}
			t.Logf("oras pull writes %q", keys(treeOf(t, out)))
		})
	}
}

type orasError struct {
	err error
	out string
}

func (e *orasError) Error() string {
	return e.err.Error() + ": " + strings.TrimSpace(e.out[strings.LastIndex(strings.TrimSpace(e.out), "\n")+1:])
}

func keys(m map[string]string) []string {
	var out []string
	for k, v := range m {
		if strings.HasPrefix(v, "-> ") {
			k += " " + v
		} else {
			k += " (" + strconv.Itoa(len(v)) + " bytes)"
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
