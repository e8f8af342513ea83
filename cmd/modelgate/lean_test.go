package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLeanLinksNoSigstore holds the lean build (lean.go) to its purpose:
// it links neither the Sigstore stack nor an OCI client, whose package
// initialisation is most of the full program's start-up.
func TestLeanLinksNoSigstore(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-tags", "modelgate_lean", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/modelgate/modelgate/loader", "go list did not list the program")
	for _, dep := range deps {
		for _, heavy := range []string{
			"github.com/modelgate/modelgate/verify/signature",
			"github.com/modelgate/modelgate/loader/oci",
			"github.com/sigstore",
			"github.com/theupdateframework/go-tuf",
			"github.com/go-openapi",
			"google.golang.org/grpc",
			"oras.land",
		} {
			require.False(t, dep == heavy || strings.HasPrefix(dep, heavy+"/"), "%s is linked by the lean build", dep)
		}
	}
}

// releaseBuild is how scripts/release.sh builds: static (no cgo, so no
// dynamic loader at start-up), paths trimmed, no symbol table.
var releaseBuild = []string{"build", "-trimpath", "-ldflags", "-s -w"}

// buildPair builds the lean program as dir/modelgate and the full one as
// dir/modelgate-full, as a release builds and installs them.
func buildPair(t testing.TB, dir string) (lean, full string) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	lean, full = filepath.Join(dir, "modelgate"), filepath.Join(dir, "modelgate-full")
	for _, b := range [][]string{
		append(slices.Clone(releaseBuild), "-tags", "modelgate_lean", "-o", lean, "."),
		append(slices.Clone(releaseBuild), "-o", full, "."),
	} {
		cmd := exec.Command(gobin, b...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %v: %s", b, out)
	}
	return lean, full
}

type outcome struct {
	code           int
	stdout, stderr string
}

func runProgram(t *testing.T, dir, prog string, args ...string) outcome {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %v: %v", prog, args, err)
	}
	return outcome{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// TestLeanAgreesWithFull is the lean build's law: for every invocation,
// the pair (lean modelgate with modelgate-full beside it) prints and
// exits exactly as the full program does. A lean program alone (no
// modelgate-full beside it) proves which invocations it runs itself: those
// still answer as the full program does, and the others are refused as a
// configuration error (exit 2) naming modelgate-full.
func TestLeanAgreesWithFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program twice")
	}
	bin := t.TempDir()
	lean, full := buildPair(t, bin)
	alone := filepath.Join(t.TempDir(), "modelgate")
	b, err := os.ReadFile(lean)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(alone, b, 0o755))
	// A link to the lean program (a PATH entry, a package manager's
	// alternatives) finds modelgate-full beside the file it resolves to.
	linked := filepath.Join(t.TempDir(), "modelgate")
	require.NoError(t, os.Symlink(lean, linked))

	work := t.TempDir()
	model := filepath.Join(work, "model")
	require.NoError(t, os.Mkdir(model, 0o755))
	st, err := os.ReadFile(filepath.Join("..", "..", "testdata", "safetensors", "tiny-mlp.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(model, "model.safetensors"), st, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(model, "config.json"), []byte(`{"model_type":"mlp"}`), 0o644))
	pkl, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pickle", "gzip.pkl.gz"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(work, "weights.bin"), pkl, 0o644))
	sum := sha256.Sum256(st)
	policy := filepath.Join(work, "policy.yaml")
	require.NoError(t, os.WriteFile(policy, []byte("version: 1\nlimits:\n  max_file_bytes: 1MiB\n"), 0o644))
	layout := filepath.Join(work, "layout")
	require.NoError(t, os.Mkdir(layout, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(layout, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))

	for _, c := range []struct {
		args      []string
		inProcess bool
	}{
		{[]string{"version"}, true},
		{[]string{"--json", "version"}, true},
		{[]string{"version", "extra"}, true},
		{[]string{"hash", "model/model.safetensors"}, true},
		{[]string{"hash", "--json", "model"}, true},
		{[]string{"hash", "--algorithm", "blake3", "model"}, true},
		{[]string{"hash", "--algorithm", "md5", "model"}, true},
		{[]string{"hash", "--bogus"}, true},
		{[]string{"inspect", "--json", "--digests", "model/model.safetensors"}, true},
		{[]string{"inspect", "model"}, true},
		{[]string{"inspect", "--json", "weights.bin"}, true},
		{[]string{"inspect", "absent"}, true},
		{[]string{"scan", "--json", "."}, false},
		{[]string{"scan", "--sarif", "-", "model", "weights.bin"}, false},
		{[]string{}, false},
		{[]string{"--help"}, false},
		{[]string{"help", "hash"}, false},
		{[]string{"bogus"}, false},
		{[]string{"--version"}, false},
		{[]string{"verify", "--sha256", hex.EncodeToString(sum[:]), "model/model.safetensors"}, false},
		{[]string{"--json", "verify", "--sha256", strings.Repeat("0", 64), "model/model.safetensors"}, false},
		{[]string{"verify", "model"}, false},
		{[]string{"inspect", "--policy", policy, "model"}, false},
		{[]string{"scan", "--policy=" + policy, "model"}, false},
		{[]string{"inspect", "oci-layout:" + layout}, false},
		{[]string{"inspect", layout}, false},
		{[]string{"inspect", "oci://127.0.0.1:1/m:v1"}, false},
		{[]string{"sign"}, false},
		{[]string{"convert"}, false},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			want := runProgram(t, work, full, c.args...)
			got := runProgram(t, work, lean, c.args...)
			assert.Equal(t, want, got, "the pair answers otherwise than the full program")
			assert.Equal(t, want, runProgram(t, work, linked, c.args...), "the pair, through a link, answers otherwise than the full program")
			solo := runProgram(t, work, alone, c.args...)
			if c.inProcess {
				assert.Equal(t, want, solo, "the lean program alone answers otherwise than the full program")
			} else {
				assert.Equal(t, exitUsage, solo.code, "the lean program alone ran an invocation it must hand on: %+v", solo)
				assert.Contains(t, solo.stderr, "modelgate-full")
			}
		})
	}
}

// TestLeanRefusesALeanFull: a lean build installed as modelgate-full would
// hand every invocation to itself forever; it is refused as a
// configuration error instead (exit 2), naming what to install.
func TestLeanRefusesALeanFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	dir := t.TempDir()
	lean, full := buildPair(t, dir)
	b, err := os.ReadFile(lean)
	require.NoError(t, err)
	require.NoError(t, os.Remove(full))
	require.NoError(t, os.WriteFile(full, b, 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, lean, "verify", dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "the lean program handed over to itself until killed")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, exitUsage, exit.ExitCode())
	assert.Contains(t, string(out), "is a lean build of modelgate too")
}
