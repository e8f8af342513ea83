package npy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/npy"
)

// testdataFiles returns the committed fixtures with the given extension.
func testdataFiles(tb testing.TB, ext string) [][]byte {
	var out [][]byte
	root := filepath.Join("..", "..", "testdata")
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ext {
			if b, err := os.ReadFile(p); err == nil && len(b) < 1<<20 {
				out = append(out, b)
			}
		}
		return nil
	})
	return out
}

// seed adds the testdata files with extension ext and the crafted files
// to f's corpus, and fails if the fixtures are missing.
func seed(f *testing.F, ext string, crafted [][]byte) {
	seeds := append(testdataFiles(f, ext), crafted...)
	if len(seeds) < 40 {
		f.Fatalf("seed corpus has %d files; the testdata fixtures are missing", len(seeds))
	}
	for _, s := range seeds {
		f.Add(s)
	}
}

func knownKind(t *testing.T, err error) {
	k := formats.KindOf(err)
	require.Contains(t, []formats.Kind{formats.KindMalformed, formats.KindUnsupported, formats.KindLimitExceeded,
		formats.KindPickle, formats.KindPathTraversal}, k, "%v", err)
}

// FuzzNpy: no input panics; refusals have known kinds; an accepted array's
// data lies within the file and is exactly as long as its shape says.
func FuzzNpy(f *testing.F) {
	var crafted [][]byte
	for _, tc := range npyRefusals {
		crafted = append(crafted, tc.file)
	}
	seed(f, ".npy", crafted)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := npy.NewReaderBytes(b, formats.Limits{})
		if err != nil {
			knownKind(t, err)
			return
		}
		data, ok := a.Bytes()
		require.True(t, ok)
		require.Equal(t, a.Size, int64(len(data)))
		require.Equal(t, int64(len(b)), a.Offset+a.Size)
		n, derr := formats.DataSize(a.DType, a.Shape, formats.DefaultLimits(), 0)
		require.Nil(t, derr)
		require.Equal(t, n, a.Size)
	})
}

// FuzzNpz: the same for archives, through the zip layer.
func FuzzNpz(f *testing.F) {
	var crafted [][]byte
	for _, tc := range npzRefusals {
		crafted = append(crafted, tc.file)
	}
	seed(f, ".npz", crafted)
	lim := formats.Limits{MaxDecompressedBytes: 1 << 20, MaxTensors: 64}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := npy.NewArchiveBytes(b, lim)
		if err != nil {
			knownKind(t, err)
			return
		}
		for _, m := range a.Members() {
			data, ok := a.Bytes(m.Name)
			require.True(t, ok)
			require.Equal(t, m.Size, int64(len(data)))
		}
	})
}
