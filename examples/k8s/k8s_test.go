// Package k8s holds the Kubernetes example; its test checks that the
// manifest's initContainer runs a modelgate command line the CLI accepts.
package k8s

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

func TestInitContainerVerifiesBeforeTheServer(t *testing.T) {
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
					InitContainers []struct {
						Args []string `yaml:"args"`
					} `yaml:"initContainers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(docs[1], &dep))
	require.Len(t, dep.Spec.Template.Spec.InitContainers, 1)
	args := strings.Join(dep.Spec.Template.Spec.InitContainers[0].Args, " ")
	assert.True(t, strings.HasPrefix(args, "verify --json --policy /policy/policy.yaml"), args)
}
