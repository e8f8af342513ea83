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
	expects := expectFiles(t)
	require.GreaterOrEqual(t, len(expects), 4)
	for _, e := range expects {
		dir := filepath.Dir(e)
		listed := map[string]bool{}
		for _, x := range readExpect(t, e) {
			listed[x.name] = true
			t.Run(filepath.Base(dir)+"/"+filepath.ToSlash(x.name), func(t *testing.T) {
				got, gotMLX := expectVerdicts(filepath.Join(dir, x.name))
				assert.Equal(t, x.want, got, "without a profile")
				assert.Equal(t, x.mlx, gotMLX, "under the MLX profile")
			})
		}
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

// expectFiles are the EXPECT files of testdata.
func expectFiles(t *testing.T) []string {
	expects, err := filepath.Glob(filepath.Join("..", "testdata", "*", "EXPECT"))
	require.NoError(t, err)
	return expects
}

// expectLine is one line of an EXPECT file: a fixture, and its verdicts
// without a profile and under the MLX profile.
type expectLine struct{ name, want, mlx string }

func readExpect(t *testing.T, path string) []expectLine {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []expectLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		require.GreaterOrEqual(t, len(fields), 2, "%s: %q", path, sc.Text())
		x := expectLine{name: filepath.FromSlash(fields[0]), want: fields[1], mlx: fields[1]}
		for _, f := range fields[2:] {
			if v, ok := strings.CutPrefix(f, "mlx="); ok {
				x.mlx = v
			}
		}
		out = append(out, x)
	}
	require.NoError(t, sc.Err())
	return out
}

// expectVerdicts opens p without a profile and under the MLX profile, and
// returns each verdict: accept or the refusal's kind.
func expectVerdicts(p string) (plain, mlx string) {
	verdict := func(opts ...loader.Option) string {
		m, err := loader.Open(ctx, p, opts...)
		if err != nil {
			return string(formats.KindOf(err))
		}
		m.Close()
		return "accept"
	}
	return verdict(), verdict(loader.WithProfile(loader.ProfileMLX))
}
