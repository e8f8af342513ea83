package loader_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

func testdata(t testing.TB, rel string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", rel))
	require.NoError(t, err)
	return b
}

// TestParseFixtures parses every generated file of an accepted format, from
// a reader and from memory, and checks each tensor's bytes against the
// digests the generator recorded.
func TestParseFixtures(t *testing.T) {
	var digests map[string]map[string]string
	require.NoError(t, json.Unmarshal(testdata(t, "digests.json"), &digests))
	for file, tensors := range digests {
		b := testdata(t, file)
		for _, mem := range [][]byte{nil, b} {
			f, err := loader.Parse(bytes.NewReader(b), int64(len(b)), mem, formats.Limits{})
			require.NoError(t, err, file)
			require.Len(t, f.Tensors, len(tensors), file)
			for name, want := range tensors {
				sr, ok := f.Section(name)
				require.True(t, ok, "%s %q", file, name)
				data, err := io.ReadAll(sr)
				require.NoError(t, err)
				sum := sha256.Sum256(data)
				assert.Equal(t, want, hex.EncodeToString(sum[:]), "%s %q", file, name)
				if mem != nil {
					zb, ok := f.Bytes(name)
					require.True(t, ok)
					assert.Equal(t, data, zb)
				}
			}
		}
	}
}

// TestRenamedPickles: every pickle-bearing fixture is refused as pickle;
// names play no part, so the same holds under any name.
func TestRenamedPickles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "pickle", "*.*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	files = append(files, filepath.Join("..", "testdata", "npz", "hostile", "object-member.npz"),
		filepath.Join("..", "testdata", "npy", "hostile", "object.npy"))
	dir := t.TempDir()
	for _, p := range files {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		for _, ext := range []string{".safetensors", ".npz", ".npy", ".bin"} {
			renamed := filepath.Join(dir, filepath.Base(p)+ext)
			require.NoError(t, os.WriteFile(renamed, b, 0o644))
			res := loader.CheckFile(bytes.NewReader(b), int64(len(b)), renamed, formats.Limits{})
			assert.Equal(t, loader.Refused, res.Verdict, renamed)
			assert.Equal(t, formats.KindPickle, res.Kind, "%s: %s", renamed, res.Reason)
		}
	}
}
