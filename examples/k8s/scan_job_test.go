package k8s

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/modelgate/modelgate/internal/testregistry"
	"github.com/modelgate/modelgate/loader/oci"
)

type jobEnv struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		FieldRef struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	} `yaml:"valueFrom"`
}

type jobContainer struct {
	Name            string   `yaml:"name"`
	Image           string   `yaml:"image"`
	Args            []string `yaml:"args"`
	Env             []jobEnv `yaml:"env"`
	VolumeMounts    []mount  `yaml:"volumeMounts"`
	SecurityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
}

type job struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		CompletionMode       string `yaml:"completionMode"`
		Completions          *int   `yaml:"completions"`
		Parallelism          *int   `yaml:"parallelism"`
		BackoffLimitPerIndex *int   `yaml:"backoffLimitPerIndex"`
		PodFailurePolicy     struct {
			Rules []struct {
				Action      string `yaml:"action"`
				OnExitCodes struct {
					ContainerName string `yaml:"containerName"`
					Operator      string `yaml:"operator"`
					Values        []int  `yaml:"values"`
				} `yaml:"onExitCodes"`
			} `yaml:"rules"`
		} `yaml:"podFailurePolicy"`
		Template struct {
			Spec struct {
				RestartPolicy   string `yaml:"restartPolicy"`
				SecurityContext struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []jobContainer `yaml:"containers"`
				Volumes    []struct {
					Name string `yaml:"name"`
					PVC  *struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// expand does what the kubelet does to a container's args: $(VAR) becomes
// the value of VAR when the container's env declares it (downward-API
// values from fields), and is left as written otherwise.
func expand(arg string, env []jobEnv, fields map[string]string) string {
	return regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).ReplaceAllStringFunc(arg, func(ref string) string {
		name := ref[2 : len(ref)-1]
		for _, e := range env {
			if e.Name != name {
				continue
			}
			if e.ValueFrom != nil {
				return fields[e.ValueFrom.FieldRef.FieldPath]
			}
			return e.Value
		}
		return ref
	})
}

// The Indexed Job example: N agrees between completions, parallelism,
// --shard and the merge's list of shard files; the index reaches the
// arguments through a declared env variable; images are pinned by digest
// and run as non-root on a read-only root; refusals are not retried. Its
// commands, run for every index against a real registry, merge into the
// SARIF and exit code of one scan.
func TestScanIndexedJob(t *testing.T) {
	b, err := os.ReadFile("scan-indexed-job.yaml")
	require.NoError(t, err)
	var scan, merge *job
	claim := ""
	for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(string(b), -1) {
		var j job
		require.NoError(t, yaml.Unmarshal([]byte(doc), &j))
		switch {
		case j.Kind == "PersistentVolumeClaim":
			claim = j.Metadata.Name
			assert.Equal(t, "scan", j.Metadata.Labels["step"], "the claim is applied with the scan")
		case j.Kind == "Job" && j.Spec.CompletionMode == "Indexed":
			scan = &j
		case j.Kind == "Job":
			merge = &j
		}
	}
	require.NotNil(t, scan)
	require.NotNil(t, merge)
	assert.Equal(t, "scan", scan.Metadata.Labels["step"])
	assert.Equal(t, "merge", merge.Metadata.Labels["step"])

	require.NotNil(t, scan.Spec.Completions)
	require.NotNil(t, scan.Spec.Parallelism)
	n := *scan.Spec.Completions
	assert.Equal(t, n, *scan.Spec.Parallelism, "completions = parallelism")
	require.Greater(t, n, 1)
	require.Len(t, scan.Spec.Template.Spec.Containers, 1)
	sc := scan.Spec.Template.Spec.Containers[0]
	require.Equal(t, "scan", sc.Args[0])
	flag := func(args []string, name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
		t.Fatalf("no %s in %q", name, args)
		return ""
	}
	assert.Equal(t, "$(JOB_COMPLETION_INDEX)/"+strconv.Itoa(n), flag(sc.Args, "--shard"), "--shard I/N with the Job's N")
	declared := false
	for _, e := range sc.Env {
		if e.Name == "JOB_COMPLETION_INDEX" {
			require.NotNil(t, e.ValueFrom)
			assert.Equal(t, "metadata.annotations['batch.kubernetes.io/job-completion-index']", e.ValueFrom.FieldRef.FieldPath)
			declared = true
		}
	}
	assert.True(t, declared, "$(JOB_COMPLETION_INDEX) expands only if the container's env declares it")

	// Refusals fail their index without a retry; usage fails the Job;
	// backoffLimitPerIndex needs restartPolicy Never.
	assert.Equal(t, "Never", scan.Spec.Template.Spec.RestartPolicy)
	require.NotNil(t, scan.Spec.BackoffLimitPerIndex)
	actions := map[int]string{}
	for _, r := range scan.Spec.PodFailurePolicy.Rules {
		assert.Equal(t, "scan", r.OnExitCodes.ContainerName)
		assert.Equal(t, "In", r.OnExitCodes.Operator)
		for _, v := range r.OnExitCodes.Values {
			actions[v] = r.Action
		}
	}
	assert.Equal(t, map[int]string{1: "FailIndex", 2: "FailJob"}, actions)

	require.Len(t, merge.Spec.Template.Spec.Containers, 1)
	mc := merge.Spec.Template.Spec.Containers[0]
	for _, j := range []*job{scan, merge} {
		assert.True(t, *j.Spec.Template.Spec.SecurityContext.RunAsNonRoot)
		var vols []string
		for _, v := range j.Spec.Template.Spec.Volumes {
			if v.PVC != nil && v.PVC.ClaimName == claim {
				vols = append(vols, v.Name)
			}
		}
		assert.Equal(t, []string{"results"}, vols, "both Jobs share the claim")
		for _, c := range j.Spec.Template.Spec.Containers {
			assert.Regexp(t, `@sha256:[0-9a-f]{64}$`, c.Image, "the image is pinned by digest")
			s := c.SecurityContext
			assert.True(t, s.RunAsNonRoot != nil && *s.RunAsNonRoot, c.Name)
			assert.True(t, s.ReadOnlyRootFilesystem != nil && *s.ReadOnlyRootFilesystem, c.Name)
			assert.True(t, s.AllowPrivilegeEscalation != nil && !*s.AllowPrivilegeEscalation, c.Name)
		}
	}
	// The merge reads exactly the N files the shards write.
	jsonl := flag(sc.Args, "--jsonl")
	var want []string
	for i := range n {
		want = append(want, expand(jsonl, sc.Env, map[string]string{"metadata.annotations['batch.kubernetes.io/job-completion-index']": strconv.Itoa(i)}))
	}
	require.Equal(t, []string{"scan", "--merge"}, mc.Args[:2])
	sarif := flag(mc.Args, "--sarif")
	assert.Equal(t, want, mc.Args[4:])

	// Run them: every index's command against a registry on 127.0.0.1
	// standing in for the one named, the results volume a directory.
	r := testregistry.Start(t)
	r.DockerConfig(t, r.Host)
	weights, err := os.ReadFile(filepath.Join("..", "..", "testdata", "safetensors", "tiny-mlp.safetensors"))
	require.NoError(t, err)
	pickle, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pickle", "proto4.pkl"))
	require.NoError(t, err)
	for i := range 5 {
		push(t, r, "models/llama", "v"+strconv.Itoa(i), "model.safetensors", weights)
	}
	push(t, r, "models/evil", "v1", "pytorch_model.bin", pickle)
	results := t.TempDir()
	bin := filepath.Join(t.TempDir(), "modelgate")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/modelgate").CombinedOutput()
	require.NoError(t, err, "%s", out)
	local := func(args []string) []string {
		out := make([]string, len(args))
		for i, a := range args {
			a = strings.ReplaceAll(a, "oci://registry.example", "oci://"+r.Host)
			out[i] = strings.ReplaceAll(a, "/results/", results+"/")
		}
		return out
	}
	exit := func(args []string) int {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		require.NoError(t, err, stderr.String())
		return 0
	}
	for i := range n {
		args := make([]string, len(sc.Args))
		for k, a := range sc.Args {
			args[k] = expand(a, sc.Env, map[string]string{"metadata.annotations['batch.kubernetes.io/job-completion-index']": strconv.Itoa(i)})
		}
		assert.Contains(t, []int{0, 1}, exit(local(args)), "shard %d", i)
	}
	assert.Equal(t, 1, exit(local(mc.Args)), "the pickle is refused")
	report, err := os.ReadFile(strings.ReplaceAll(sarif, "/results/", results+"/"))
	require.NoError(t, err)
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(report, &log))
	require.Len(t, log.Runs, 1)
	require.Len(t, log.Runs[0].Results, 1)
	assert.Equal(t, "pickle", log.Runs[0].Results[0].RuleID)
}

// push pushes a ModelPack artifact of one raw weight layer to repo:tag.
func push(t *testing.T, r *testregistry.Registry, repo, tag, name string, b []byte) {
	ctx := context.Background()
	dst := r.Repository(t, repo)
	l := content.NewDescriptorFromBytes("application/vnd.cncf.model.weight.v1.raw", b)
	l.Annotations = map[string]string{oci.AnnotationFilepath: name, ocispec.AnnotationTitle: name}
	require.NoError(t, dst.Push(ctx, l, bytes.NewReader(b)))
	cfgb := []byte(`{"descriptor":{"name":"k8s"},"modelfs":{"type":"layers","diffIds":[]},"config":{}}`)
	cfg := content.NewDescriptorFromBytes(oci.MediaTypeModelConfig, cfgb)
	require.NoError(t, dst.Push(ctx, cfg, bytes.NewReader(cfgb)))
	man, err := oras.PackManifest(ctx, dst, oras.PackManifestVersion1_1, oci.ArtifactTypeModelPack, oras.PackManifestOptions{Layers: []ocispec.Descriptor{l}, ConfigDescriptor: &cfg})
	require.NoError(t, err)
	require.NoError(t, dst.Tag(ctx, man, tag))
}
