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
)

// officialVectors are the "hash" outputs (first 32 bytes) of the BLAKE3
// team's test_vectors/test_vectors.json (github.com/BLAKE3-team/BLAKE3,
// commit 2f6f56f3): the input is input_len bytes of 0, 1, ..., 250, 0, ...
var officialVectors = []struct {
	n    int
	hash string
}{
	{0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
	{1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
	{1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"},
	{1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
	{1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"},
	{2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a"},
	{2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030"},
	{3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2"},
	{3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3"},
	{4096, "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969"},
	{4097, "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995"},
	{5120, "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833"},
	{5121, "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff"},
	{6144, "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205"},
	{6145, "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f"},
	{7168, "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a"},
	{7169, "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817"},
	{8192, "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63"},
	{8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b"},
	{16384, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4"},
	{31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47"},
	{102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"},
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

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
	for _, v := range officialVectors {
		assert.Equal(t, v.hash, sum(t, pattern(v.n), 0), "input_len %d", v.n)
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
