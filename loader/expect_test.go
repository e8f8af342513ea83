package loader_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// TestExpectBesideTheVectors opens every fixture listed in the EXPECT
// files beside them, with and without the MLX profile, and checks the
// verdict written there; a fixture no EXPECT line lists fails the test.
func TestExpectBesideTheVectors(t *testing.T) {
	expects, err := filepath.Glob(filepath.Join("..", "testdata", "*", "EXPECT"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(expects), 4)
	for _, e := range expects {
		dir := filepath.Dir(e)
		listed := map[string]bool{}
		f, err := os.Open(e)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			require.GreaterOrEqual(t, len(fields), 2, "%s: %q", e, sc.Text())
			name, want, mlx := fields[0], fields[1], fields[1]
			for _, f := range fields[2:] {
				if v, ok := strings.CutPrefix(f, "mlx="); ok {
					mlx = v
				}
			}
			listed[filepath.FromSlash(name)] = true
			p := filepath.Join(dir, filepath.FromSlash(name))
			t.Run(filepath.Base(dir)+"/"+name, func(t *testing.T) {
				for _, tc := range []struct {
					want string
					opts []loader.Option
				}{{want, nil}, {mlx, []loader.Option{loader.WithProfile(loader.ProfileMLX)}}} {
					m, err := loader.Open(ctx, p, tc.opts...)
					got := "accept"
					if err != nil {
						got = string(formats.KindOf(err))
					} else {
						m.Close()
					}
					assert.Equal(t, tc.want, got, "%v (mlx profile: %t)", err, tc.opts != nil)
				}
			})
		}
		f.Close()
		require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() == "EXPECT" {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			assert.True(t, listed[rel], "%s has no line in %s", rel, e)
			return nil
		}))
	}
}
