// Package k8s holds the Kubernetes example; its test checks that the
// manifest's server runs under modelgate run on the sealed hand-off, with
// a command line the CLI accepts.
package k8s

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

func TestServerLoadsTheSealedHandOff(t *testing.T) {
	b, err := os.ReadFile("model-server.yaml")
	require.NoError(t, err)
	docs := bytes.Split(b, []byte("\n---\n"))
	require.Len(t, docs, 2)
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	require.NoError(t, yaml.Unmarshal(docs[0], &cm))
	// The policy approves the bundled example laid out as the volume holds
	// it (its absolute names moved from /models/llama to a temporary
	// directory), and refuses it once a file the digests do not cover
	// appears.
	model := t.TempDir()
	dir := t.TempDir()
	sums := strings.ReplaceAll(cm.Data["model.sums"], "/models/llama/", model+"/")
	require.NoError(t, os.WriteFile(dir+"/model.sums", []byte(sums), 0o644))
	policy, err := verify.ParsePolicy([]byte(cm.Data["policy.yaml"]), dir)
	require.NoError(t, err)

	weights, err := os.ReadFile(filepath.Join("..", "..", "testdata", "safetensors", "tiny-mlp.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(model, "model.safetensors"), weights, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(model, "README.md"), []byte("# llama\n"), 0o644))
	m, err := loader.Open(context.Background(), model, loader.WithPolicy(policy), loader.WithProfile(loader.ProfileMLX))
	require.NoError(t, err)
	m.Close()
	require.NoError(t, os.WriteFile(filepath.Join(model, "config.json"), []byte(`{}`), 0o644))
	_, err = loader.Open(context.Background(), model, loader.WithPolicy(policy))
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "%v", err)

	var dep struct {
		Spec struct {
			Template struct {
				Spec struct {
					InitContainers []any `yaml:"initContainers"`
					Containers     []struct {
						Command []string `yaml:"command"`
						Args    []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(docs[1], &dep))
	pod := dep.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	assert.Empty(t, pod.InitContainers, "the server's own modelgate run verifies")
	server := pod.Containers[0]
	require.Equal(t, []string{"/usr/local/bin/modelgate"}, server.Command)
	dash := slices.Index(server.Args, "--")
	require.Greater(t, dash, 0, "run MODEL -- CMD")
	assert.Equal(t, "run", server.Args[0])
	assert.Equal(t, "/models/llama", server.Args[dash-1])
	for _, a := range server.Args[dash+1:] {
		assert.False(t, strings.Contains(a, "/models"), "the server is handed the sealed bytes, never the verified path: %q", a)
	}
	assert.Contains(t, server.Args[dash+1:], "{model}")

	// The container's command line, as modelgate runs it: the model and
	// policy where the volumes put them, and a server that reads the
	// sealed file through {model} and fails unless it is the verified model.
	policyDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(policyDir, "policy.yaml"), []byte(cm.Data["policy.yaml"]), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(policyDir, "model.sums"), []byte(sums), 0o644))
	require.NoError(t, os.Remove(filepath.Join(model, "config.json")))
	bin := filepath.Join(t.TempDir(), "modelgate")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/modelgate").CombinedOutput()
	require.NoError(t, err, "%s", out)
	args := slices.Clone(server.Args[:dash+1])
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "/policy/"):
			args[i] = policyDir + strings.TrimPrefix(a, "/policy")
		case a == "/models/llama":
			args[i] = model
		case a == "/app":
			args[i] = policyDir // something readable
		}
	}
	args = append(args, "/usr/bin/cmp", "{model}", "-")
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(weights) // the canonical rewrite of a canonical file is the file
	out, err = cmd.CombinedOutput()
	assert.NoError(t, err, "%s", out)
}
