package loader_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"lukechampine.com/blake3"

	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// TestPeakRSSDoesNotGrowWithFileSize opens and verifies (by SHA-256, then
// by BLAKE3 on every core) a 1 GiB model in a child process and checks
// the child's peak RSS: reads for hashing and a mapping that is never
// touched keep it far below the file's size.
func TestPeakRSSDoesNotGrowWithFileSize(t *testing.T) {
	if p := os.Getenv("MODELGATE_RSS_CHILD"); p != "" {
		d, err := verify.ParseDigest(os.Getenv("MODELGATE_RSS_DIGEST"))
		require.NoError(t, err)
		a, err := verify.NewAllowlist(verify.NewEntry("", verify.Algorithm(os.Getenv("MODELGATE_RSS_ALG")), d))
		require.NoError(t, err)
		m, err := loader.Open(context.Background(), p, loader.WithAllowlist(a))
		require.NoError(t, err)
		require.NoError(t, m.Close())
		printPeakRSS()
		return
	}
	if testing.Short() {
		t.Skip("hashes 1 GiB")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "big.safetensors")
	const data = 1 << 30
	hdr := fmt.Sprintf(`{"w":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]}}`, data, data)
	head := append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...)
	writeFile(t, p, head)
	require.NoError(t, os.Truncate(p, int64(len(head))+data))
	for _, h := range []hash.Hash{sha256.New(), blake3.New(32, nil)} {
		h.Write(head)
		_, err := io.CopyN(h, zeros{}, data)
		require.NoError(t, err)
		alg := verify.SHA256
		if _, ok := h.(*blake3.Hasher); ok {
			alg = verify.BLAKE3
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSSDoesNotGrowWithFileSize$")
		cmd.Env = append(os.Environ(), "MODELGATE_RSS_CHILD="+p, fmt.Sprintf("MODELGATE_RSS_DIGEST=%x", h.Sum(nil)), "MODELGATE_RSS_ALG="+string(alg))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		rss := childPeakRSS(cmd, out)
		t.Logf("verifying a 1 GiB file by %s: peak RSS %d MiB", alg, rss>>20)
		require.Less(t, rss, int64(64<<20)*raceOverhead, "%s: peak RSS %d bytes", alg, rss)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
