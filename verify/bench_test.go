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

// BenchmarkHashFile hashes a 256 MiB file from the page cache with each
// algorithm, in ChunkSize reads (BLAKE3: 1 MiB subtrees on every core).
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
	for _, a := range []verify.Algorithm{verify.SHA256, verify.BLAKE3, verify.BLAKE2b} {
		b.Run(string(a), func(b *testing.B) {
			b.SetBytes(256 << 20)
			for b.Loop() {
				if _, err := a.Sum(context.Background(), f, 256<<20, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHashFileMapped hashes the same kind of file through a mapping.
func BenchmarkHashFileMapped(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte{0xa5}, 256<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(256 << 20)
	for b.Loop() {
		if _, err := verify.HashFiles(context.Background(), verify.SHA256, []string{p}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
