//go:build !modelgate_lean

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoPeerInTheBuild holds the README's promise that the peers modelgate
// is compared with (nlpodyssey/safetensors, gguf-parser-go, zeebo/blake3)
// and the test libraries are test-only: no package of the module, built
// without its tests, links them. bench/ is a module of its own for this.
func TestNoPeerInTheBuild(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/modelgate/modelgate/...").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/modelgate/modelgate/loader", "go list did not list the module")
	for _, dep := range deps {
		for _, peer := range []string{
			"github.com/nlpodyssey/safetensors",
			"github.com/gpustack/gguf-parser-go",
			"github.com/zeebo/blake3",
			"github.com/stretchr/testify",
			"github.com/rogpeppe/go-internal",
			"github.com/containerd", // interop/containerd's, a module of its own
		} {
			require.False(t, dep == peer || strings.HasPrefix(dep, peer+"/"), "%s is linked by a non-test package of the module", dep)
		}
	}
}

// TestDigestOnlyImporterLinksNoSigstore holds "pay only for what you use":
// a program importing formats/..., loader and verify (digests,
// allowlists, digest files, policies) links none of the Sigstore stack,
// which lives in verify/signature. Before the split, loader alone linked
// 608 packages (go list -deps ./loader | wc -l), go-tuf, go-openapi, gRPC,
// OpenTelemetry, go-containerregistry and klog among them.
func TestDigestOnlyImporterLinksNoSigstore(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps",
		"github.com/modelgate/modelgate/formats/...",
		"github.com/modelgate/modelgate/loader",
		"github.com/modelgate/modelgate/verify").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/modelgate/modelgate/loader", "go list did not list the module")
	t.Logf("a digest-only importer links %d packages (608 before verify/signature)", len(deps))
	for _, dep := range deps {
		for _, heavy := range []string{
			"github.com/modelgate/modelgate/verify/signature",
			"github.com/sigstore",
			"github.com/theupdateframework/go-tuf",
			"github.com/go-openapi",
			"google.golang.org/grpc",
			"go.opentelemetry.io",
			"github.com/google/go-containerregistry",
			"k8s.io/klog",
		} {
			require.False(t, dep == heavy || strings.HasPrefix(dep, heavy+"/"), "%s is linked by a digest-only importer", dep)
		}
	}
}

// TestREADMEStatesWhatGoModPins holds the README's dependency table to
// go.mod: every module go.mod requires directly appears in one of the
// table's rows together with the version go.mod pins.
func TestREADMEStatesWhatGoModPins(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	var rows []string
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| ") {
			rows = append(rows, line)
		}
	}
	direct := 0
	inBlock := false
	for _, line := range strings.Split(string(mod), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inBlock = true
			continue
		case line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || strings.Contains(line, "// indirect") {
			continue
		}
		direct++
		// The path as a whole word (not a prefix of a longer path).
		named := regexp.MustCompile(regexp.QuoteMeta(f[0]) + `([^A-Za-z0-9./_-]|$)`)
		found := false
		for _, row := range rows {
			if named.MatchString(row) && strings.Contains(row, f[1]) {
				found = true
				break
			}
		}
		assert.True(t, found, "README's dependency table has no row naming %s %s", f[0], f[1])
	}
	require.Greater(t, direct, 10, "go.mod's direct requirements were not read")
}
