package safetensors_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	nlp "github.com/nlpodyssey/safetensors"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
)

// manyTensors returns a canonical file with n one-element F32 tensors named
// like a transformer's.
func manyTensors(tb testing.TB, n int) []byte {
	ts := make([]safetensors.Tensor, n)
	for i := range ts {
		ts[i] = safetensors.Tensor{
			Name:  fmt.Sprintf("model.layers.%d.mlp.experts.%d.down_proj.weight", i/256, i%256),
			DType: formats.F32, Shape: []int64{1, 1},
			Data: bytes.NewReader(make([]byte, 4)),
		}
	}
	var buf bytes.Buffer
	require.NoError(tb, safetensors.Write(&buf, ts, map[string]string{"format": "pt"}))
	return buf.Bytes()
}

func BenchmarkParseHeader(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		file := manyTensors(b, n)
		b.Run(fmt.Sprintf("tensors=%d/modelgate", n), func(b *testing.B) {
			b.SetBytes(int64(len(file)))
			for b.Loop() {
				if _, err := safetensors.NewReaderBytes(file, formats.Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("tensors=%d/nlpodyssey", n), func(b *testing.B) {
			b.SetBytes(int64(len(file)))
			for b.Loop() {
				if _, err := nlp.Deserialize(file); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// sparseModel makes a file of dataBytes of (sparse, unwritten) F32 data
// behind a real header, without writing the data.
func sparseModel(tb testing.TB, dataBytes int64) string {
	hdr := fmt.Sprintf(`{"w":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}`, dataBytes/4, dataBytes)
	file := mk(hdr, 0)
	p := filepath.Join(tb.TempDir(), "big.safetensors")
	require.NoError(tb, os.WriteFile(p, file, 0o644))
	require.NoError(tb, os.Truncate(p, int64(len(file))+dataBytes))
	return p
}

func openFile(tb testing.TB, p string) *safetensors.File {
	f, err := os.Open(p)
	require.NoError(tb, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(tb, err)
	sf, err := safetensors.NewReader(f, st.Size(), formats.Limits{})
	require.NoError(tb, err)
	return sf
}

// BenchmarkOpen opens files of 1 MiB and 1 GiB of data: the time must not
// grow with the data, since only the header is read.
func BenchmarkOpen(b *testing.B) {
	for _, size := range []int64{1 << 20, 1 << 30} {
		p := sparseModel(b, size)
		b.Run(fmt.Sprintf("data=%dMiB", size>>20), func(b *testing.B) {
			for b.Loop() {
				openFile(b, p)
			}
		})
	}
}

// TestOpenCostIndependentOfSize asserts that opening a 1 GiB file allocates
// as little as opening a 1 KiB one: nothing is read or allocated from the
// data section.
func TestOpenCostIndependentOfSize(t *testing.T) {
	// The least allocated by one open over a few rounds: other goroutines
	// (the GC, the test runner) add noise only upwards.
	alloc := func(p string) uint64 {
		best := uint64(1 << 62)
		for range 5 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			openFile(t, p)
			runtime.ReadMemStats(&after)
			best = min(best, after.TotalAlloc-before.TotalAlloc)
		}
		return best
	}
	small := alloc(sparseModel(t, 1<<10))
	big := alloc(sparseModel(t, 1<<30))
	require.Less(t, big, uint64(16<<10), "opening a 1 GiB file allocated %d bytes", big)
	require.InDelta(t, float64(small), float64(big), 512)
}
