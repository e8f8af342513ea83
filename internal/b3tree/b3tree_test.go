package b3tree

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	zeebo "github.com/zeebo/blake3"
	"lukechampine.com/blake3"

	"github.com/modelgate/modelgate/internal/b3vectors"
)

// fill writes seeded pseudo-random bytes into b.
func fill(b []byte, seed uint64) {
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b) //nolint:errcheck // ChaCha8.Read never fails
}

func sum(t testing.TB, b []byte, workers int) string {
	t.Helper()
	d, err := Sum(context.Background(), bytes.NewReader(b), int64(len(b)), workers, nil)
	require.NoError(t, err)
	return hex.EncodeToString(d[:])
}

func TestOfficialVectors(t *testing.T) {
	for _, v := range b3vectors.Hashes {
		assert.Equal(t, v.Hash, sum(t, b3vectors.Input(v.Len), 0), "input_len %d", v.Len)
	}
}

// boundarySizes are sizes around chunk, SIMD-batch, segment and round
// boundaries, where the tree's shape changes.
func boundarySizes() []int {
	var out []int
	for _, base := range []int{0, chunk, 2 * chunk, simd, 3 * simd, Segment / 2, Segment, 2 * Segment, 3 * Segment, 4*Segment + 5*chunk} {
		for _, d := range []int{-chunk - 1, -chunk, -1, 0, 1, chunk, chunk + 1} {
			if n := base + d; n >= 0 {
				out = append(out, n)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		out = append(out, r.IntN(6*Segment))
	}
	return out
}

// TestAgreesAcrossRounds hashes inputs around the boundaries of the
// rounds Sum merges between (round segments each), against
// lukechampine.com/blake3's sequential hasher.
func TestAgreesAcrossRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 2 x 128 MiB")
	}
	data := make([]byte, 2*round*Segment+3*chunk)
	fill(data, 9)
	for _, n := range []int{round * Segment, round*Segment + 1, round*Segment + Segment + chunk, 2*round*Segment + 3*chunk} {
		want := blake3.Sum256(data[:n])
		assert.Equal(t, hex.EncodeToString(want[:]), sum(t, data[:n], 2), "%d bytes", n)
	}
}

// TestAgreesWithSequentialHashers compares the parallel tree with the
// sequential hashers of lukechampine.com/blake3 and github.com/zeebo/blake3
// (two independent implementations), with 1, 2 and 5 workers.
func TestAgreesWithSequentialHashers(t *testing.T) {
	data := make([]byte, 6*Segment+2*chunk)
	fill(data, 3)
	for _, n := range boundarySizes() {
		b := data[:n]
		want := blake3.Sum256(b)
		z := zeebo.Sum256(b)
		require.Equal(t, want, z, "the two oracles disagree at %d bytes", n)
		for _, w := range []int{1, 2, 5} {
			assert.Equal(t, hex.EncodeToString(want[:]), sum(t, b, w), "%d bytes, %d workers", n, w)
		}
	}
}

// TestAgreesWithB3sum hashes files of the boundary sizes with Debian's
// b3sum (the BLAKE3 team's Rust implementation) and with Sum.
func TestAgreesWithB3sum(t *testing.T) {
	b3sum, err := exec.LookPath("b3sum")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("b3sum is not installed (apt install b3sum)")
		}
		t.Skip("b3sum is not installed")
	}
	dir := t.TempDir()
	data := make([]byte, 6*Segment+2*chunk)
	fill(data, 5)
	var names []string
	for i, n := range boundarySizes() {
		name := filepath.Join(dir, fmt.Sprintf("f%02d", i))
		require.NoError(t, os.WriteFile(name, data[:n], 0o600))
		names = append(names, name)
	}
	out, err := exec.Command(b3sum, append([]string{"--no-names"}, names...)...).Output()
	require.NoError(t, err)
	lines := strings.Fields(string(out))
	require.Len(t, lines, len(names))
	for i, name := range names {
		f, err := os.Open(name)
		require.NoError(t, err)
		st, _ := f.Stat()
		d, err := Sum(context.Background(), f, st.Size(), 0, nil)
		f.Close()
		require.NoError(t, err)
		assert.Equal(t, lines[i], hex.EncodeToString(d[:]), "%d bytes", st.Size())
	}
}

func TestShortInputIsAReadError(t *testing.T) {
	for _, n := range []int64{10, 3 * Segment} {
		_, err := Sum(context.Background(), bytes.NewReader(make([]byte, n)), n+1, 2, nil)
		var re *ReadError
		require.ErrorAs(t, err, &re, "%d bytes", n)
		assert.Equal(t, n, re.Offset)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	}
}

func TestCancelledContextStopsHashing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Sum(ctx, bytes.NewReader(make([]byte, 3*Segment)), 3*Segment, 2, nil)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
}

func TestProgressCountsEveryByte(t *testing.T) {
	var total atomicInt
	n := 3*Segment + 17
	_, err := Sum(context.Background(), bytes.NewReader(make([]byte, n)), int64(n), 2, total.add)
	require.NoError(t, err)
	assert.Equal(t, int64(n), total.load())
}

// BenchmarkSum hashes 64 MiB from memory with every core, and with one
// (the inner loop of hash --algorithm blake3).
func BenchmarkSum(b *testing.B) {
	data := make([]byte, 64<<20)
	for _, w := range []int{1, 0} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Sum(context.Background(), bytes.NewReader(data), int64(len(data)), w, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("zeebo", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			zeebo.Sum256(data)
		}
	})
	b.Run("lukechampine", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			blake3.Sum256(data)
		}
	})
}
