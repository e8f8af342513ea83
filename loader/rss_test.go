package loader_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// TestPeakRSSDoesNotGrowWithFileSize opens and verifies (by digest) a
// 1 GiB model in a child process and checks the child's peak RSS: reads
// for hashing and a mapping that is never touched keep it far below the
// file's size.
func TestPeakRSSDoesNotGrowWithFileSize(t *testing.T) {
	if p := os.Getenv("MODELGATE_RSS_CHILD"); p != "" {
		d, err := verify.ParseDigest(os.Getenv("MODELGATE_RSS_DIGEST"))
		require.NoError(t, err)
		a, err := verify.NewAllowlist(verify.NewEntry("", verify.SHA256, d))
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
	h := sha256.New()
	h.Write(head)
	_, err := io.CopyN(h, zeros{}, data)
	require.NoError(t, err)

	cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSSDoesNotGrowWithFileSize$")
	cmd.Env = append(os.Environ(), "MODELGATE_RSS_CHILD="+p, fmt.Sprintf("MODELGATE_RSS_DIGEST=%x", h.Sum(nil)))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	rss := childPeakRSS(cmd, out)
	t.Logf("verifying a 1 GiB file: peak RSS %d MiB", rss>>20)
	require.Less(t, rss, int64(64<<20)*raceOverhead, "peak RSS %d bytes", rss)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
