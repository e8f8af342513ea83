package containerd

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader/oci"
)

var update = flag.Bool("update", false, "rewrite testdata/containerd.txt with what containerd did in this run")

const (
	layersDir  = "../../loader/oci/testdata/layers"
	goldenPath = "testdata/containerd.txt"
)

// fixture is one line of EXPECT: a layer file and modelgate's verdict.
type fixture struct{ file, verdict string }

func fixtures(t *testing.T) []fixture {
	f, err := os.Open(filepath.Join(layersDir, "EXPECT"))
	require.NoError(t, err, "the layer fixtures of loader/oci")
	defer f.Close()
	var out []fixture
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			name, verdict, ok := strings.Cut(line, " ")
			require.True(t, ok, "EXPECT line %q", line)
			out = append(out, fixture{name, verdict})
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, out)
	return out
}

// Every tar layer fixture, unpacked by containerd's archive.Apply (as its
// diff applier does: decompressed, into an empty directory, no options)
// and by modelgate (oci.Open over a layout holding it): where modelgate
// accepts, containerd writes the same files and bytes; where modelgate
// refuses, containerd's outcome is the golden file's.
func TestContainerdApplyAgrees(t *testing.T) {
	if os.Geteuid() != 0 {
		// archive.Apply chowns each entry to its owner, as containerd
		// does as root; elsewhere it fails on every fixture.
		if os.Getenv("CI") == "true" {
			t.Fatal("containerd's archive.Apply needs root (CI=true: fail, not skip)")
		}
		t.Skip("containerd's archive.Apply needs root")
	}
	// Go's gzip, not an igzip or unpigz on PATH, which containerd would
	// run instead: the outcome is then the same on every host.
	t.Setenv("CONTAINERD_DISABLE_IGZIP", "1")
	t.Setenv("CONTAINERD_DISABLE_PIGZ", "1")
	var golden []string
	for _, fx := range fixtures(t) {
		t.Run(fx.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(layersDir, fx.file))
			require.NoError(t, err)

			got, m := modelgate(t, fx.file, b)
			assert.Equal(t, fx.verdict, got, "modelgate's verdict is EXPECT's")
			line := fx.file + ": modelgate " + got + "; containerd "
			var naive string
			for _, v := range variants {
				root := t.TempDir()
				cerr := apply(root, b, v.opts...)
				ctree := treeOf(t, root)
				var out string
				switch {
				case cerr != nil:
					out = "refuses: " + strings.ReplaceAll(cerr.Error(), root, "ROOT")
					if len(ctree) > 0 {
						out += "; after writing " + describe(ctree)
					}
				case got == "ok" && m != nil && equal(ctree, treeOf(t, m.Dir())):
					out = fmt.Sprintf("writes the same files (%d)", len(ctree))
					if x := xattrsOf(t, root); x != "" {
						out += ", and sets " + x
					}
				default:
					out = "writes " + describe(ctree)
				}
				if got == "ok" {
					// A differential to fix in modelgate, or justify in the README.
					require.NoError(t, cerr, "%s: modelgate accepts what containerd refuses", v.name)
					assert.Equal(t, treeOf(t, m.Dir()), ctree, "%s: containerd unpacks other files or bytes than modelgate", v.name)
				}
				switch {
				case v.name == "":
					naive = out
					line += out
				case out != naive:
					line += "; " + v.name + ": " + out
				}
			}
			golden = append(golden, line)
		})
	}
	want := "# What containerd's archive.Apply (v2.2.9, pkg/archive) does with each layer fixture of\n" +
		"# loader/oci/testdata/layers, beside modelgate's verdict. Written by go test -update.\n" +
		strings.Join(golden, "\n") + "\n"
	if *update {
		require.NoError(t, os.WriteFile(goldenPath, []byte(want), 0o644))
	}
	have, err := os.ReadFile(goldenPath)
	require.NoError(t, err, "go test -update writes it")
	assert.Equal(t, string(have), want, "containerd's outcomes changed: go test -update, and review the diff")
}

// modelgate opens a layout holding the layer as a ModelPack weight layer
// (tar, or tar+gzip for a .gz), as loader/oci's tests do, and returns
// "ok" and the model (closed with the test), or the refusal's kind.
func modelgate(t *testing.T, name string, layer []byte) (string, *oci.Model) {
	mt := "application/vnd.cncf.model.weight.v1.tar"
	if strings.HasSuffix(name, ".gz") {
		mt += "+gzip"
	}
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755))
	blob := func(b []byte) digest.Digest {
		d := digest.FromBytes(b)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Encoded()), b, 0o644))
		return d
	}
	cfg := []byte(`{"descriptor":{"name":"test"},"modelfs":{"type":"layers","diffIds":[]},"config":{"format":"safetensors"}}`)
	man, err := json.Marshal(ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: oci.ArtifactTypeModelPack,
		Config:       ocispec.Descriptor{MediaType: oci.MediaTypeModelConfig, Digest: blob(cfg), Size: int64(len(cfg))},
		Layers:       []ocispec.Descriptor{{MediaType: mt, Digest: blob(layer), Size: int64(len(layer))}},
	})
	require.NoError(t, err)
	idx, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: blob(man), Size: int64(len(man)),
			Annotations: map[string]string{ocispec.AnnotationRefName: "v1"}}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
	m, err := oci.Open(context.Background(), dir)
	if err != nil {
		return string(formats.KindOf(err)), nil
	}
	t.Cleanup(func() { m.Close() })
	return "ok", m
}

// variants are the ways containerd's diff applier on Linux
// (core/diff/apply/apply_linux.go) calls archive.Apply: with no options
// for any mount but overlay (the native snapshotter, a bind mount), and
// with OverlayConvertWhiteout for the overlayfs snapshotter, the default
// (whiteouts become 0:0 character devices and trusted.overlay.opaque;
// WithParents only copies a lower directory's metadata, and there is no
// lower layer here). The golden line adds the overlay outcome where it
// differs.
var variants = []struct {
	name string
	opts []archive.ApplyOpt
}{
	{"", nil},
	{"with OverlayConvertWhiteout", []archive.ApplyOpt{archive.WithConvertWhiteout(archive.OverlayConvertWhiteout)}},
}

// apply unpacks a layer as containerd's diff applier does: decompressed
// by its content (compression.DecompressStream, as the applier's stream
// processor for a +gzip media type), then archive.Apply, then what
// follows the tar's end is read.
func apply(root string, layer []byte, opts ...archive.ApplyOpt) error {
	ds, err := compression.DecompressStream(strings.NewReader(string(layer)))
	if err != nil {
		return err
	}
	defer ds.Close()
	if _, err := archive.Apply(context.Background(), root, ds, opts...); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, ds) // the applier reads what follows the tar's end
	return err
}

// treeOf describes every non-directory under dir: a regular file by its
// bytes, a symbolic link as "-> target", anything else by its type.
func treeOf(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch typ := d.Type(); {
		case typ.IsRegular():
			b, err := os.ReadFile(p)
			out[filepath.ToSlash(rel)] = string(b)
			return err
		case typ&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			out[filepath.ToSlash(rel)] = "-> " + target
			return err
		case typ&fs.ModeCharDevice != 0:
			out[filepath.ToSlash(rel)] = "(char device)"
		case typ&fs.ModeDevice != 0:
			out[filepath.ToSlash(rel)] = "(block device)"
		case typ&fs.ModeNamedPipe != 0:
			out[filepath.ToSlash(rel)] = "(fifo)"
		default:
			out[filepath.ToSlash(rel)] = "(" + typ.String() + ")"
		}
		return nil
	}))
	return out
}

// xattrsOf lists the extended attributes set on the files under dir
// ("name on file, ..."), which modelgate does not apply and the tree
// comparison leaves out (a loader reads a file's bytes).
func xattrsOf(t *testing.T, dir string) string {
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		buf := make([]byte, 4096)
		n, err := unix.Llistxattr(p, buf)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, name := range strings.Split(string(buf[:n]), "\x00") {
			if name != "" {
				out = append(out, "xattr "+name+" on "+filepath.ToSlash(rel))
			}
		}
		return nil
	}))
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// describe lists a tree compactly: name (N bytes, the start of its
// SHA-256), name -> target, or name (type).
func describe(tree map[string]string) string {
	if len(tree) == 0 {
		return "nothing"
	}
	var out []string
	for k, v := range tree {
		switch {
		case strings.HasPrefix(v, "-> "), strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")") && len(v) < 20:
			out = append(out, k+" "+v)
		default:
			out = append(out, fmt.Sprintf("%s (%d bytes, %.8s)", k, len(v), digest.FromString(v).Encoded()))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}
