package k8s

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

type mount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

type container struct {
	Args         []string `yaml:"args"`
	VolumeMounts []mount  `yaml:"volumeMounts"`
}

// The image-volume example pins the artifact by digest, gates the mounted
// files in an initContainer with a command the CLI accepts, and its policy
// approves the example model laid out as the volume holds it.
func TestImageVolumeGatedByInitContainer(t *testing.T) {
	b, err := os.ReadFile("image-volume.yaml")
	require.NoError(t, err)
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	var pod struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Volumes []struct {
				Name  string `yaml:"name"`
				Image *struct {
					Reference string `yaml:"reference"`
				} `yaml:"image"`
			} `yaml:"volumes"`
			InitContainers []container `yaml:"initContainers"`
			Containers     []container `yaml:"containers"`
		} `yaml:"spec"`
	}
	docs := regexp.MustCompile(`(?m)^---$`).Split(string(b), -1)
	require.Len(t, docs, 2)
	require.NoError(t, yaml.Unmarshal([]byte(docs[0]), &cm))
	require.NoError(t, yaml.Unmarshal([]byte(docs[1]), &pod))
	require.Equal(t, "Pod", pod.Kind)

	var ref string
	for _, v := range pod.Spec.Volumes {
		if v.Name == "model" && v.Image != nil {
			ref = v.Image.Reference
		}
	}
	assert.Regexp(t, `@sha256:[0-9a-f]{64}$`, ref, "the image volume is pinned by digest")

	require.Len(t, pod.Spec.InitContainers, 1)
	gate := pod.Spec.InitContainers[0]
	require.GreaterOrEqual(t, len(gate.Args), 2)
	assert.Equal(t, "verify", gate.Args[0])
	modelPath := gate.Args[len(gate.Args)-1]
	for _, c := range append([]container{gate}, pod.Spec.Containers...) {
		found := false
		for _, m := range c.VolumeMounts {
			if m.Name == "model" {
				found = true
				assert.Equal(t, modelPath, m.MountPath, "the gate checks the path the server reads")
				assert.True(t, m.ReadOnly)
			}
		}
		assert.True(t, found, "every container mounts the model volume")
	}

	// The policy approves the bundled example as the volume would hold it,
	// and refuses it once a file the digests do not cover appears.
	// The sums name files by the volume's mount path: moved with the model.
	dir, model := t.TempDir(), t.TempDir()
	sums := strings.ReplaceAll(cm.Data["model.sums"], modelPath+"/", model+"/")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.sums"), []byte(sums), 0o644))
	policy, err := verify.ParsePolicy([]byte(cm.Data["policy.yaml"]), dir)
	require.NoError(t, err)
	weights, err := os.ReadFile(filepath.Join("..", "..", "testdata", "safetensors", "tiny-mlp.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(model, "model.safetensors"), weights, 0o644))
	m, err := loader.Open(context.Background(), model, loader.WithPolicy(policy))
	require.NoError(t, err)
	m.Close()
	require.NoError(t, os.WriteFile(filepath.Join(model, "extra.safetensors"), weights, 0o644))
	_, err = loader.Open(context.Background(), model, loader.WithPolicy(policy))
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "%v", err)
}
