package loader_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/loader"
)

// TestConvertStreamsBigEndianData: rewriting a 64 MiB big-endian npy as
// safetensors swaps its bytes as they are copied, allocating a buffer's
// worth, not the tensor (issue 25: memory independent of model size; the
// service writes every accepted upload this way), and the output holds the
// values little-endian.
func TestConvertStreamsBigEndianData(t *testing.T) {
	const n = 16 << 20 // float32 values
	data := make([]byte, 4*n)
	for i := 0; i < len(data); i += 4 {
		data[i+3] = byte(i / 4) // big-endian: the low byte last
	}
	p := filepath.Join(t.TempDir(), "be.npy")
	writeFile(t, p, npyWith("{'descr': '>f4', 'fortran_order': False, 'shape': (16777216,), }", data))
	m, err := loader.Open(context.Background(), p)
	require.NoError(t, err)
	defer m.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := sha256.New()
	require.NoError(t, m.WriteSafetensors(h))
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "allocated while rewriting a 64 MiB tensor")

	var out bytes.Buffer
	require.NoError(t, m.WriteSafetensors(&out))
	b := out.Bytes()
	tail := b[len(b)-4*n:]
	for _, i := range []int{0, 1, 255, 256, n - 1} {
		assert.Equal(t, byte(i), tail[4*i], "value %d, little-endian", i)
		assert.Equal(t, []byte{0, 0, 0}, tail[4*i+1:4*i+4])
	}
}
