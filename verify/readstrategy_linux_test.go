package verify

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modelgate/modelgate/internal/b3tree"
)

// mapping is an io.ReaderAt over a mapped file.
type mapping []byte

func (m mapping) ReadAt(p []byte, off int64) (int, error) { return copy(p, m[off:]), nil }

// BenchmarkReadStrategy measures, on the host it runs on, how hashing a
// file from the page cache should read it (issue 27: b3sum maps the file,
// modelgate reads it with pread): pread into a ChunkSize buffer (what
// Algorithm.Sum and b3tree do), a mapping of the whole file read through
// ReadAt (what the loader's map mode hands over), and 64 MiB windows mapped
// in turn, with MADV_SEQUENTIAL or MAP_POPULATE, hashed in place and
// unmapped (RSS bounded by the window). It reports user and system CPU
// time per run beside the wall time. The file is 256 MiB of zeros written
// once, or MODELGATE_BENCH_FILE (a file already in the page cache).
//
//	go test ./verify -run '^$' -bench ReadStrategy -benchtime 7x
func BenchmarkReadStrategy(b *testing.B) {
	path := os.Getenv("MODELGATE_BENCH_FILE")
	if path == "" {
		path = filepath.Join(b.TempDir(), "f")
		require(b, os.WriteFile(path, make([]byte, 256<<20), 0o600))
	}
	f, err := os.Open(path)
	require(b, err)
	defer f.Close()
	fi, err := f.Stat()
	require(b, err)
	size := fi.Size()
	const window = 64 << 20
	windows := func(flags int, advice int, hash func([]byte)) {
		for off := int64(0); off < size; off += window {
			m, err := unix.Mmap(int(f.Fd()), off, int(min(window, size-off)), unix.PROT_READ, unix.MAP_SHARED|flags)
			require(b, err)
			if advice != 0 {
				require(b, unix.Madvise(m, advice))
			}
			hash(m)
			require(b, unix.Munmap(m))
		}
	}
	sha := func(m []byte) {
		h := sha256.New()
		for i := 0; i < len(m); i += ChunkSize {
			h.Write(m[i:min(len(m), i+ChunkSize)])
		}
	}
	for _, s := range []struct {
		name string
		run  func()
	}{
		{"sha256/pread", func() { _, err := SHA256.Sum(context.Background(), f, size, nil); require(b, err) }},
		{"sha256/map-windows-sequential", func() { windows(0, unix.MADV_SEQUENTIAL, sha) }},
		{"sha256/map-windows-populate", func() { windows(unix.MAP_POPULATE, 0, sha) }},
		{"blake3/pread", func() { _, err := BLAKE3.Sum(context.Background(), f, size, nil); require(b, err) }},
		{"blake3/map-whole-readat", func() {
			m, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
			require(b, err)
			require(b, unix.Madvise(m, unix.MADV_SEQUENTIAL))
			_, err = b3tree.Sum(context.Background(), mapping(m), size, 0, nil)
			require(b, err)
			require(b, unix.Munmap(m))
		}},
	} {
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(size)
			var user, sys time.Duration
			for b.Loop() {
				u0, s0 := rusage()
				s.run()
				u1, s1 := rusage()
				user, sys = user+u1-u0, sys+s1-s0
			}
			b.ReportMetric(user.Seconds()/float64(b.N), "user-s/op")
			b.ReportMetric(sys.Seconds()/float64(b.N), "sys-s/op")
		})
	}
	b.Logf("file %s, %s bytes", path, strconv.FormatInt(size, 10))
}

func rusage() (user, sys time.Duration) {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano()), time.Duration(r.Stime.Nano())
}

func require(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
