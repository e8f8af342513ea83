package loader_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// tree lays out a model directory with every case the ignore rule and the
// symlink rule distinguish.
func tree(t *testing.T) (dir, outside string) {
	dir, outside = t.TempDir(), t.TempDir()
	write := func(rel string, b []byte) {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	write("model.safetensors", testdata(t, "safetensors/tiny-mlp.safetensors"))
	write("weights.npz", testdata(t, "npz/savez.npz"))
	write("config.json", []byte(`{"architectures": ["MLP"]}`))
	write("README.md", []byte("# model\n"))
	write("empty", nil)
	write("tokenizer.model", testdata(t, "content/spm/tokenizer.model"))       // by sentencepiece's trainer
	write("spiece.model", []byte("\x0a\x00\xff\xfe binary, no sentencepiece")) // a tokenizer's name excuses nothing
	write("blob.bin", []byte("\x00\x01\x02\xff\xfe"))
	write("docs/notes.md", testdata(t, "pickle/proto4.pkl")) // a pickle named .md
	write("pytorch_model.bin", testdata(t, "pickle/torch-zip.pt"))
	write(".git/objects/ab/cdef", []byte("x\x9cgarbage"))
	write("tf/saved_model.pb", []byte("\x08\x01\x12\x05graph"))
	write("tf/variables/variables.index", []byte("\x00\x01index"))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.pkl"), testdata(t, "pickle/proto2.pkl"), 0o644))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.pkl"), filepath.Join(dir, "escape.safetensors")))
	require.NoError(t, os.Symlink("model.safetensors", filepath.Join(dir, "alias.safetensors")))
	require.NoError(t, os.Symlink("docs/notes.md", filepath.Join(dir, "alias.pkl")))
	return dir, outside
}

func verdicts(results []loader.ScanResult, dir string) map[string][2]string {
	out := map[string][2]string{}
	for _, r := range results {
		rel, _ := filepath.Rel(dir, r.Path)
		out[filepath.ToSlash(rel)] = [2]string{r.Verdict, string(r.Kind)}
	}
	return out
}

func TestScan(t *testing.T) {
	dir, _ := tree(t)
	results, err := loader.Scan(context.Background(), []string{dir}, loader.ScanOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string][2]string{
		"model.safetensors":            {loader.Accepted, ""},
		"weights.npz":                  {loader.Accepted, ""},
		"config.json":                  {loader.Ignored, ""},
		"README.md":                    {loader.Ignored, ""},
		"empty":                        {loader.Ignored, ""},
		"tokenizer.model":              {loader.Ignored, ""},
		"spiece.model":                 {loader.Refused, "unknown-format"},
		"blob.bin":                     {loader.Refused, string(formats.KindUnknownFormat)},
		"docs/notes.md":                {loader.Refused, string(formats.KindPickle)},
		"pytorch_model.bin":            {loader.Refused, string(formats.KindPickle)},
		".git":                         {loader.Ignored, ""},
		"escape.safetensors":           {loader.Refused, string(formats.KindPathTraversal)},
		"alias.safetensors":            {loader.Refused, string(formats.KindPathTraversal)},
		"alias.pkl":                    {loader.Refused, string(formats.KindPathTraversal)},
		"tf/saved_model.pb":            {loader.Refused, string(formats.KindUnsupported)},
		"tf/variables/variables.index": {loader.Refused, string(formats.KindUnknownFormat)},
	}, verdicts(results, dir))
	for _, r := range results {
		if filepath.Base(r.Path) == "saved_model.pb" {
			assert.Equal(t, formats.FormatSavedModel, r.Format)
		}
	}

	results, err = loader.Scan(context.Background(), []string{dir}, loader.ScanOptions{FollowSymlinks: true})
	require.NoError(t, err)
	v := verdicts(results, dir)
	assert.Equal(t, [2]string{loader.Accepted, ""}, v["alias.safetensors"])
	assert.Equal(t, [2]string{loader.Refused, string(formats.KindPickle)}, v["alias.pkl"])
	assert.Equal(t, [2]string{loader.Refused, string(formats.KindPathTraversal)}, v["escape.safetensors"])
}

func TestScanFilesAndMissing(t *testing.T) {
	dir, _ := tree(t)
	results, err := loader.Scan(context.Background(), []string{filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "nope")}, loader.ScanOptions{})
	require.NoError(t, err)
	require.Len(t, results, 2)
	assert.Equal(t, loader.Accepted, results[0].Verdict)
	assert.Equal(t, 6, results[0].Tensors)
	assert.Equal(t, formats.KindIO, results[1].Kind)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = loader.Scan(ctx, []string{dir}, loader.ScanOptions{})
	assert.ErrorIs(t, err, context.Canceled)
}
