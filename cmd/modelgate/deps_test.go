package main

import (
	"os/exec"
	"strings"
	"testing"

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
		} {
			require.False(t, dep == peer || strings.HasPrefix(dep, peer+"/"), "%s is linked by a non-test package of the module", dep)
		}
	}
}
