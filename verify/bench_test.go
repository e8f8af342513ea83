package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelgate/modelgate/verify"
)

// BenchmarkSHA256Kernel is the in-memory speed of the SHA-256 modelgate
// uses: the ceiling for hashing one file.
func BenchmarkSHA256Kernel(b *testing.B) {
	buf := bytes.Repeat([]byte{0x5a}, verify.ChunkSize)
	b.SetBytes(int64(len(buf)))
	h := sha256.New()
	for b.Loop() {
		h.Write(buf)
	}
}

// BenchmarkHashFile hashes a 256 MiB file from the page cache through
// Hash (1 MiB reads) and through a mapping (HashBytes).
func BenchmarkHashFile(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte{0xa5}, 256<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.Run("readat", func(b *testing.B) {
		b.SetBytes(256 << 20)
		for b.Loop() {
			if _, err := verify.Hash(context.Background(), f, 256<<20, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHashFileMapped hashes the same kind of file through a mapping.
func BenchmarkHashFileMapped(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte{0xa5}, 256<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(256 << 20)
	for b.Loop() {
		if _, err := verify.HashFiles(context.Background(), []string{p}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
