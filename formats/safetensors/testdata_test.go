package safetensors_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
)

// TestGeneratedFixtures reads the files testdata/gen.py made with numpy and
// torch, and checks every tensor's bytes against the sha256 of numpy's
// tobytes() that the generator recorded.
func TestGeneratedFixtures(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "digests.json"))
	require.NoError(t, err)
	var digests map[string]map[string]string
	require.NoError(t, json.Unmarshal(raw, &digests))
	n := 0
	for file, tensors := range digests {
		if !strings.HasPrefix(file, "safetensors/") {
			continue
		}
		n++
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", file))
		require.NoError(t, err)
		f, err := safetensors.NewReaderBytes(b, formats.Limits{})
		require.NoError(t, err, file)
		require.Len(t, f.Tensors(), len(tensors), file)
		for name, want := range tensors {
			data, ok := f.Bytes(name)
			require.True(t, ok, "%s: %s", file, name)
			sum := sha256.Sum256(data)
			assert.Equal(t, want, hex.EncodeToString(sum[:]), "%s: %s", file, name)
		}
		checkRoundTrip(t, b, f)
		assert.Equal(t, b, rewrite(t, f), "%s: our writer orders and pads as the reference writer does", file)
	}
	assert.GreaterOrEqual(t, n, 2)
}
