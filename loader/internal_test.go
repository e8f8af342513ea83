package loader

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
)

// TestFileSwappedDuringVerification rewrites the file between hashing and
// the final re-check: Open refuses it, unless the bytes were privately
// copied (then what was verified is what is used).
func TestFileSwappedDuringVerification(t *testing.T) {
	mk := func(v byte) []byte {
		var buf bytes.Buffer
		require.NoError(t, safetensors.Write(&buf, []safetensors.Tensor{{Name: "w", DType: formats.U8, Shape: []int64{4}, Data: bytes.NewReader([]byte{v, v, v, v})}}, nil))
		return buf.Bytes()
	}
	p := filepath.Join(t.TempDir(), "m.safetensors")
	for _, tc := range []struct {
		mode Mode
		swap func()
		ok   bool
	}{
		{ModeMap, func() { require.NoError(t, os.WriteFile(p, mk(9), 0o644)) }, false},
		{ModeReadAt, func() { require.NoError(t, os.WriteFile(p, mk(9), 0o644)) }, false},
		{ModeReadAt, func() { // same size, header rewritten, mtime restored
			st, _ := os.Stat(p)
			b := mk(1)
			require.Equal(t, byte('w'), b[10])
			b[10] = 'x' // still valid: the tensor is renamed
			require.NoError(t, os.WriteFile(p, b, 0o644))
			require.NoError(t, os.Chtimes(p, st.ModTime(), st.ModTime()))
		}, false},
		{ModePrivateCopy, func() { require.NoError(t, os.WriteFile(p, mk(9), 0o644)) }, true},
	} {
		require.NoError(t, os.WriteFile(p, mk(1), 0o644))
		old := time.Now().Add(-time.Hour)
		require.NoError(t, os.Chtimes(p, old, old))
		testHookAfterHold = func(string) { tc.swap() }
		m, err := Open(context.Background(), p, WithMode(tc.mode))
		testHookAfterHold = nil
		if tc.ok {
			require.NoError(t, err)
			b, _ := m.Bytes("w")
			assert.Equal(t, []byte{1, 1, 1, 1}, b, "the private copy is what was verified")
			m.Close()
		} else {
			assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), "mode %d: %v", tc.mode, err)
		}
	}
}
