package loader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/verify"
)

// TestUnleasedFileIsRehashedNotCopied: with no read lease (a user who
// does not own the files), map and read-at hold the file by its chunks'
// digests instead of a private copy in memory; reads return the verified
// bytes, and fail (digest-mismatch) once the file changes.
func TestUnleasedFileIsRehashedNotCopied(t *testing.T) {
	defer WithoutLeasesForTest()()
	data := make([]byte, 3<<20+123) // several chunks, the last one short
	for i := range data {
		data[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, []safetensors.Tensor{{Name: "w", DType: formats.U8, Shape: []int64{int64(len(data))}, Data: bytes.NewReader(data)}}, nil))
	p := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	sum := sha256.Sum256(buf.Bytes())
	a, err := verify.ParseDigest(hex.EncodeToString(sum[:]))
	require.NoError(t, err)
	allow, err := verify.NewAllowlist(verify.NewEntry("", verify.SHA256, a))
	require.NoError(t, err)
	for _, mode := range []Mode{ModeMap, ModeReadAt} {
		t.Run(mode.String(), func(t *testing.T) {
			require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
			m, err := Open(context.Background(), p, WithMode(mode), WithAllowlist(allow))
			require.NoError(t, err)
			defer m.Close()
			assert.Equal(t, []string{"m.safetensors"}, m.Verified.Rehashed)
			_, err = m.Bytes("w")
			assert.Error(t, err, "a rehashed file is not in memory")
			sr, err := m.Section("w")
			require.NoError(t, err)
			got, err := io.ReadAll(sr)
			require.NoError(t, err)
			assert.Equal(t, data, got)

			changed := bytes.Clone(buf.Bytes())
			changed[len(changed)-10] ^= 1 // in the last chunk
			require.NoError(t, os.WriteFile(p, changed, 0o644))
			sr, _ = m.Section("w")
			_, err = io.ReadAll(sr)
			assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), "%v", err)
		})
	}
}

// TestOpenHoldsFewDescriptors: a directory of many weight files and many
// text files is opened with at most maxHeldFiles descriptors held
// (issue 25, finding 5), and every tensor still reads back.
func TestOpenHoldsFewDescriptors(t *testing.T) {
	dir := t.TempDir()
	const n = maxHeldFiles + 100
	for i := range n {
		var b bytes.Buffer
		require.NoError(t, safetensors.Write(&b, []safetensors.Tensor{{Name: fmt.Sprintf("w%d", i), DType: formats.U8, Shape: []int64{3}, Data: bytes.NewReader([]byte{1, 2, 3})}}, nil))
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%04d.safetensors", i)), b.Bytes(), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("n%04d.txt", i)), []byte("notes\n"), 0o644))
	}
	before := openFDs(t)
	m, err := Open(context.Background(), dir)
	require.NoError(t, err)
	held := openFDs(t) - before
	assert.LessOrEqual(t, held, maxHeldFiles+1, "descriptors held by an open model of %d files", 2*n)
	assert.Len(t, m.Tensors, n)
	assert.Len(t, m.Verified.Rehashed, n-maxHeldFiles)
	for _, tn := range m.Tensors {
		sr, err := m.Section(tn.Name)
		require.NoError(t, err)
		b, err := io.ReadAll(sr)
		require.NoError(t, err)
		assert.Equal(t, []byte{1, 2, 3}, b)
	}
	require.NoError(t, m.Close())
	assert.Equal(t, before, openFDs(t))
}

func openFDs(t *testing.T) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(es)
}
