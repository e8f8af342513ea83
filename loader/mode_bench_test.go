package loader_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/loader"
)

// bigModel writes a safetensors file of n data bytes (sparse: zeros).
func bigModel(tb testing.TB, n int64) string {
	hdr := `{"w":{"dtype":"U8","shape":[` + strconv.FormatInt(n, 10) + `],"data_offsets":[0,` + strconv.FormatInt(n, 10) + `]}}`
	p := filepath.Join(tb.TempDir(), "model.safetensors")
	writeFile(tb, p, append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...))
	require.NoError(tb, os.Truncate(p, int64(8+len(hdr))+n))
	return p
}

// BenchmarkOpenMode measures what each mode's guarantee costs to open a
// 256 MiB file (no digest): map and read-at take a read lease and copy
// nothing; private-copy reads the whole file into memory.
func BenchmarkOpenMode(b *testing.B) {
	p := bigModel(b, 256<<20)
	for _, mode := range []loader.Mode{loader.ModeMap, loader.ModeReadAt, loader.ModePrivateCopy} {
		b.Run(mode.String(), func(b *testing.B) {
			b.SetBytes(256 << 20)
			for b.Loop() {
				m, err := loader.Open(ctx, p, loader.WithMode(mode))
				if err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
		})
	}
}

// BenchmarkLeaseBreak measures how long a writer waits when it opens a
// mapped 256 MiB file: the time to make the mapping private and release
// the lease.
func BenchmarkLeaseBreak(b *testing.B) {
	b.SetBytes(256 << 20)
	var waited time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := bigModel(b, 256<<20)
		m, err := loader.Open(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		waited += time.Since(start)
		b.StopTimer()
		f.Close()
		m.Close()
	}
	b.ReportMetric(float64(waited.Milliseconds())/float64(b.N), "ms-writer-waited/op")
}
