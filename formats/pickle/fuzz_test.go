package pickle_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/pickle"
)

// FuzzClassify: no input panics or errors (reading from memory cannot
// fail); a verdict that finds a pickle is never accepted; every refusal
// has one of the three detection kinds; and the verdict is the same twice.
func FuzzClassify(f *testing.F) {
	n := 0
	for _, dir := range []string{"pickle", "npz/hostile", "npy/hostile", "safetensors", "npz", "gguf"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", dir, "*"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
				n++
			}
		}
	}
	if n < 25 {
		f.Fatalf("seed corpus has %d files; the testdata fixtures are missing", n)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := pickle.Classify(bytes.NewReader(b), int64(len(b)), formats.Limits{})
		require.NoError(t, err)
		if v.Pickle {
			require.False(t, v.Accepted())
		}
		if e := v.Refusal(); e != nil {
			require.Contains(t, []formats.Kind{formats.KindPickle, formats.KindUnsupported, formats.KindUnknownFormat, formats.KindMalformed}, e.Kind)
		}
		w, _ := pickle.Classify(bytes.NewReader(b), int64(len(b)), formats.Limits{})
		require.Equal(t, v, w)
	})
}

func TestImports(t *testing.T) {
	for file, want := range map[string][]string{
		"pickle/proto0.pkl":      nil,
		"pickle/model.joblib":    {"joblib.numpy_pickle.NumpyArrayWrapper"},
		"pickle/torch-legacy.pt": {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2"},
	} {
		v := classify(t, testdata(t, file))
		for _, imp := range want {
			require.Contains(t, v.Imports, imp, file)
		}
	}
	// The walk is bounded: a long run of imports is cut at MaxImports.
	var b []byte
	for i := 0; i < 100; i++ {
		b = append(b, []byte("cm"+string(rune('a'+i%26))+string(rune('a'+i/26))+"\nf\n")...)
	}
	v := classify(t, append(b, '.'))
	require.True(t, v.Pickle)
	require.Len(t, v.Imports, pickle.MaxImports)
}
