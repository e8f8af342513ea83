package b3kernel_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
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

	"github.com/modelgate/modelgate/internal/b3tree"
	"github.com/modelgate/modelgate/internal/b3vectors"
)

func treeSum(t *testing.T, b []byte) string {
	t.Helper()
	d, err := b3tree.Sum(context.Background(), bytes.NewReader(b), int64(len(b)), 2, nil)
	require.NoError(t, err)
	return hex.EncodeToString(d[:])
}

// TestOfficialVectorsOnEveryPath hashes the BLAKE3 team's vectors with
// b3tree.Sum, which hashes through the kernels, on each path.
func TestOfficialVectorsOnEveryPath(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, v := range b3vectors.Hashes {
			assert.Equal(t, v.Hash, treeSum(t, b3vectors.Input(v.Len)), "input_len %d", v.Len)
		}
	})
}

// randomLengths are lengths up to 3 MiB: around the kernel's group (16
// chunks) and b3tree's segment (512 KiB), and random ones.
func randomLengths(r *rand.Rand) []int {
	var out []int
	for _, base := range []int{16 << 10, 32 << 10, 512 << 10, 1 << 20, 5 << 19} {
		for _, d := range []int{-1025, -1024, -1, 0, 1, 1024, 16 << 10} {
			out = append(out, base+d)
		}
	}
	for range 24 {
		out = append(out, r.IntN(3<<20))
	}
	return out
}

// TestSumAgreesWithLukechampineAndZeeboOnEveryPath compares the whole
// hash, over random lengths and data, with the sequential hashers of
// lukechampine.com/blake3 and github.com/zeebo/blake3, on each path.
func TestSumAgreesWithLukechampineAndZeeboOnEveryPath(t *testing.T) {
	data := make([]byte, 3<<20)
	fill(data, 21)
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(4, 4))
		for _, n := range randomLengths(r) {
			b := data[len(data)-n:] // a different start for each length
			want := blake3.Sum256(b)
			require.Equal(t, want, zeebo.Sum256(b), "the oracles disagree at %d bytes", n)
			assert.Equal(t, hex.EncodeToString(want[:]), treeSum(t, b), "%d bytes", n)
		}
	})
}

// TestSumAgreesWithB3sumOnEveryPath hashes files with Debian's b3sum (the
// BLAKE3 team's Rust implementation) and with b3tree.Sum on each path.
func TestSumAgreesWithB3sumOnEveryPath(t *testing.T) {
	b3sum, err := exec.LookPath("b3sum")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("b3sum is not installed (apt install b3sum)")
		}
		t.Skip("b3sum is not installed")
	}
	dir := t.TempDir()
	data := make([]byte, 3<<20)
	fill(data, 22)
	r := rand.New(rand.NewPCG(5, 5))
	var names []string
	var sizes []int
	for i, n := range randomLengths(r) {
		name := filepath.Join(dir, fmt.Sprintf("f%02d", i))
		require.NoError(t, os.WriteFile(name, data[:n], 0o600))
		names = append(names, name)
		sizes = append(sizes, n)
	}
	out, err := exec.Command(b3sum, append([]string{"--no-names"}, names...)...).Output()
	require.NoError(t, err)
	want := strings.Fields(string(out))
	require.Len(t, want, len(names))
	eachPath(t, func(t *testing.T) {
		for i, n := range sizes {
			assert.Equal(t, want[i], treeSum(t, data[:n]), "%d bytes", n)
		}
	})
}
