package content_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/content"
)

var roles = map[content.Role]string{content.Weights: "weights", content.Index: "index", content.Code: "code", content.Inert: "inert"}

// identity is what Identify says of a file as an EXPECT line spells it:
// role/format, code for a file that runs code (a chat template no policy
// approves included), or the refusal's kind.
func identity(t *testing.T, p string) string {
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	id, err := content.Identify(f, st.Size(), filepath.Base(p), formats.Limits{})
	switch {
	case err != nil:
		return string(formats.KindOf(err))
	case id.Code(nil) != "":
		return "code"
	}
	return roles[id.Role] + "/" + string(id.Format)
}

// TestIdentifyBesideTheVectors checks the content= verdict of every line
// of testdata/content/EXPECT: files made by the real writers (gen.py), and
// the same files with a second reading added.
func TestIdentifyBesideTheVectors(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "content")
	f, err := os.Open(filepath.Join(dir, "EXPECT"))
	require.NoError(t, err)
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		for _, fl := range fields {
			want, ok := strings.CutPrefix(fl, "content=")
			if !ok {
				continue
			}
			n++
			t.Run(fields[0], func(t *testing.T) {
				assert.Equal(t, want, identity(t, filepath.Join(dir, filepath.FromSlash(fields[0]))))
			})
		}
	}
	require.NoError(t, sc.Err())
	require.Greater(t, n, 20)
}
