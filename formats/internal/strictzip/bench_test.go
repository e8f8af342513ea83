package strictzip_test

import (
	"bytes"
	stdflate "compress/flate"
	"io"
	"math/rand/v2"
	"testing"

	kflate "github.com/klauspost/compress/flate"
)

// BenchmarkInflate compares the standard library's inflater with
// klauspost/compress on float32 weights (random mantissas compress little,
// as real weights do) and on zeros.
func BenchmarkInflate(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	weights := make([]byte, 32<<20)
	for i := 0; i < len(weights); i += 4 {
		weights[i], weights[i+1], weights[i+2], weights[i+3] = byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()&0x7f), 0x3c
	}
	for _, in := range []struct {
		name string
		data []byte
	}{{"weights", weights}, {"zeros", make([]byte, 32<<20)}} {
		var c bytes.Buffer
		w, _ := stdflate.NewWriter(&c, stdflate.DefaultCompression)
		w.Write(in.data)
		w.Close()
		comp := c.Bytes()
		b.Run(in.name+"/stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				io.Copy(io.Discard, stdflate.NewReader(bytes.NewReader(comp)))
			}
		})
		b.Run(in.name+"/klauspost", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				io.Copy(io.Discard, kflate.NewReader(bytes.NewReader(comp)))
			}
		})
	}
}
