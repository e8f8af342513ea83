package gguf_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	parser "github.com/gpustack/gguf-parser-go"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/internal/ggufwrite"
)

// writeSparse writes s as ggufwrite.WriteSparse does, in a temporary
// directory, and returns its path and size.
func writeSparse(tb testing.TB, s ggufwrite.File) (string, int64) {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "model.gguf")
	require.NoError(tb, ggufwrite.WriteSparse(p, s))
	st, err := os.Stat(p)
	require.NoError(tb, err)
	return p, st.Size()
}

func openModelgate(tb testing.TB, p string) *gguf.File {
	f, err := os.Open(p)
	require.NoError(tb, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(tb, err)
	g, err := gguf.NewReader(f, st.Size(), formats.Limits{})
	require.NoError(tb, err)
	return g
}

// BenchmarkOpen compares opening GGUF files (header, metadata and tensor
// infos; no tensor data) with gguf-parser-go's ParseGGUFFile on the same
// file (read through the file, and mapped): a 4 GiB model of 256 F16 tensors with a 32,000-entry tokenizer,
// and a header holding a 150,000-entry tokenizer (as Qwen's and Llama 3's
// are). Run:
//
//	go test -run '^$' -bench Open -benchmem ./formats/gguf/
func BenchmarkOpen(b *testing.B) {
	for _, c := range []struct {
		name string
		s    ggufwrite.File
	}{
		{"4GiB", ggufwrite.Llama(32_000, 256, 2048)},
		{"tokenizer150k", ggufwrite.Llama(150_000, 1, 32)},
	} {
		p, size := writeSparse(b, c.s)
		b.Run(c.name+"/modelgate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				openModelgate(b, p)
			}
			b.ReportMetric(float64(size)/(1<<30), "GiB-file")
		})
		for _, o := range []struct {
			name string
			opts []parser.GGUFReadOption
		}{{"gguf-parser-go", nil}, {"gguf-parser-go-mmap", []parser.GGUFReadOption{parser.UseMMap()}}} {
			b.Run(c.name+"/"+o.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_, err := parser.ParseGGUFFile(p, o.opts...)
					require.NoError(b, err)
				}
			})
		}
	}
}

// TestOpenCostIndependentOfFileSize: opening a 4 GiB model allocates no
// more than opening the same header over 4 MiB of data; the reader never
// touches tensor data.
func TestOpenCostIndependentOfFileSize(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a sparse 4 GiB file")
	}
	allocated := func(per uint64) (uint64, int64) {
		p, size := writeSparse(t, ggufwrite.Llama(32_000, 256, per))
		openModelgate(t, p) // warm
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		openModelgate(t, p)
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, size
	}
	small, smallSize := allocated(2)
	big, bigSize := allocated(2048)
	require.Greater(t, bigSize, int64(4<<30))
	require.Less(t, smallSize, int64(5<<20))
	t.Logf("allocated %d bytes for a %d-byte file, %d for a %d-byte file", small, smallSize, big, bigSize)
	require.LessOrEqual(t, big, small+small/10, "opening the larger file allocated more")
}
