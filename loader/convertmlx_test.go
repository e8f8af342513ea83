package loader_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// TestConvertUnderMLXOutputPassesTheMLXProfile: for every fixture of
// testdata that opens under the MLX profile, convert's writer either
// writes a safetensors file that opens under the MLX profile too (what
// `convert --profile mlx` writes, `inspect --profile mlx` accepts), or
// refuses with kind unsupported, saying what would work.
func TestConvertUnderMLXOutputPassesTheMLXProfile(t *testing.T) {
	dir := t.TempDir()
	converted, refused := 0, 0
	for _, e := range expectFiles(t) {
		for _, x := range readExpect(t, e) {
			if x.mlx != "accept" {
				continue
			}
			in := filepath.Join(filepath.Dir(e), x.name)
			m, err := loader.Open(ctx, in, loader.WithProfile(loader.ProfileMLX))
			require.NoError(t, err, in)
			out := filepath.Join(dir, "out.safetensors")
			f, err := os.Create(out)
			require.NoError(t, err)
			err = m.WriteSafetensors(f)
			m.Close()
			require.NoError(t, f.Close())
			if err != nil {
				refused++
				assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%s: %v", in, err)
				assert.Contains(t, err.Error(), "keep the", "%s: the refusal says what would work", in)
				continue
			}
			converted++
			o, err := loader.Open(ctx, out, loader.WithProfile(loader.ProfileMLX))
			if assert.NoError(t, err, "%s converts under the MLX profile to a file the profile refuses", in) {
				o.Close()
			}
		}
	}
	t.Logf("%d fixtures converted, %d refused", converted, refused)
	require.Greater(t, converted, 10)
	require.Greater(t, refused, 0, "le-f8.npy: MLX reads it, but not as F64 safetensors")
}
