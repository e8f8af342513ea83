package safetensors_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	nlp "github.com/nlpodyssey/safetensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/internal/testvectors"
)

// oracleAccepts runs github.com/nlpodyssey/safetensors on b. It reports
// whether the oracle accepts and whether every tensor uses a dtype the
// oracle knows (outside that set the oracle's verdict says nothing).
func oracleAccepts(b []byte) (accepts bool) {
	defer func() {
		if recover() != nil {
			accepts = false
		}
	}()
	_, err := nlp.Deserialize(b)
	return err == nil
}

var oracleDTypes = map[formats.DType]bool{
	formats.BOOL: true, formats.U8: true, formats.I8: true, formats.I16: true,
	formats.U16: true, formats.F16: true, formats.BF16: true, formats.I32: true,
	formats.U32: true, formats.F32: true, formats.F64: true, formats.I64: true,
	formats.U64: true,
}

func sharedDTypes(f *safetensors.File) bool {
	for _, t := range f.Tensors() {
		if !oracleDTypes[t.DType] {
			return false
		}
	}
	return true
}

// TestOracleRefusals holds every refusal against the oracle: where the
// oracle refuses too, the case must not claim to be stricter; where it
// accepts, the case must say why modelgate is stricter.
func TestOracleRefusals(t *testing.T) {
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			if tc.strict == "" {
				assert.False(t, oracleAccepts(tc.file), "oracle accepts this file: say why modelgate is stricter")
			} else {
				assert.True(t, oracleAccepts(tc.file), "oracle refuses this file too: drop the stricter note %q", tc.strict)
			}
		})
	}
}

// TestOracleAcceptances checks that every file modelgate accepts on the
// shared dtype set, the oracle accepts too.
func TestOracleAcceptances(t *testing.T) {
	for _, tc := range acceptances {
		f, err := safetensors.NewReaderBytes(tc.file, formats.Limits{})
		require.NoError(t, err, tc.name)
		if sharedDTypes(f) {
			assert.True(t, oracleAccepts(tc.file), tc.name)
		}
	}
}

// loadSharedVectors reads the upstream safetensors vectors, keyed by
// their path below the set.
func loadSharedVectors() (map[string][]byte, error) {
	root, _ := testvectors.Root()
	sharedRoot := filepath.Join(root, "safetensors")
	out := map[string][]byte{}
	err := filepath.WalkDir(sharedRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".safetensors" {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(sharedRoot, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	return out, err
}

// sharedVectors returns the shared vectors, skipping the test when they are
// absent (a user's clone has no ../shared).
func sharedVectors(t testing.TB) map[string][]byte {
	t.Helper()
	testvectors.Dir(t, "safetensors")
	out, err := loadSharedVectors()
	require.NoError(t, err)
	return out
}

// TestSharedVectors checks each upstream vector against the verdict its
// PROVENANCE.md states for the reference implementation.
func TestSharedVectors(t *testing.T) {
	want := map[string]formats.Kind{ // "" = accept
		"hf-safetensors-samples-2022/B.safetensors":                          "",
		"hf-safetensors-samples-2022/b.safetensors":                          "",
		"hf-safetensors-samples-2022/H.safetensors":                          "",
		"hf-safetensors-samples-2022/h.safetensors":                          "",
		"hf-safetensors-samples-2022/I.safetensors":                          "",
		"hf-safetensors-samples-2022/i.safetensors":                          "",
		"hf-safetensors-samples-2022/e.safetensors":                          "",
		"hf-safetensors-samples-2022/f.safetensors":                          "",
		"hf-safetensors-samples-2022/d.safetensors":                          "",
		"hf-safetensors-samples-2022/overall.safetensors":                    "",
		"syoyo-safetensors-cpp/gen/model.safetensors":                        "",
		"syoyo-safetensors-cpp/test/safetensors_abuse_attempt_1.safetensors": formats.KindMalformed,
	}
	files := sharedVectors(t)
	require.Len(t, files, len(want), "a vector was added or removed upstream: state its verdict here")
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			kind, ok := want[name]
			require.True(t, ok, "no verdict for %s", name)
			f, err := safetensors.NewReaderBytes(b, formats.Limits{})
			assert.Equal(t, kind, formats.KindOf(err), "%v", err)
			assert.Equal(t, kind == "", oracleAccepts(b), "the oracle disagrees with PROVENANCE.md")
			if err == nil {
				assert.NotEmpty(t, f.Tensors())
			}
		})
	}
}

// TestSharedSampleValues checks the data of the 2022 samples: each tensor
// is range(-3, 3) in its dtype, at a misaligned offset.
func TestSharedSampleValues(t *testing.T) {
	files := sharedVectors(t)
	f, err := safetensors.NewReaderBytes(files["hf-safetensors-samples-2022/overall.safetensors"], formats.Limits{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"test": "a"}, f.Metadata())
	require.Len(t, f.Tensors(), 9)
	b, ok := f.Bytes("b") // I8
	require.True(t, ok)
	assert.Equal(t, []byte{0xfd, 0xfe, 0xff, 0, 1, 2}, b)
	i, _ := f.Tensor("i")
	assert.Equal(t, int64(24), i.Size)
	assert.Equal(t, formats.I32, i.DType)
	d, _ := f.Tensor("d")
	assert.Equal(t, int64(582), d.Offset, "PROVENANCE.md: F64 d at absolute offset 582")
	assert.True(t, bytes.Equal(files["hf-safetensors-samples-2022/B.safetensors"][89:], []byte{253, 254, 255, 0, 1, 2}))
}
