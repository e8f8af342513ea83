package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// npzBomb is an npz of n empty members: every member's headers are read
// and held (issue 18's npz row of loader TestCostBudget, about 100 MiB).
func npzBomb(t *testing.T, n int) []byte {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	arr := []byte("\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }")
	arr = append(arr, bytes.Repeat([]byte(" "), 128-len(arr)-1)...)
	arr = append(arr, '\n')
	for i := range n {
		w, err := z.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("a%d.npy", i), Method: zip.Store})
		require.NoError(t, err)
		w.Write(arr)
	}
	require.NoError(t, z.Close())
	return buf.Bytes()
}

// TestServiceHoldsConcurrentHostileUploadsInBudget: eight hostile uploads
// at once (safetensors headers of 9 M metadata entries, and npz archives
// of 65,536 members, each costing loader.Open 100-120 MiB alone) are all
// answered, and the service's peak RSS stays under the README's 256 MiB
// budget (issue 25). Checks run one at a time (-max-checks, default 1):
// each already hashes on every core, so memory is one check's.
func TestServiceHoldsConcurrentHostileUploadsInBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads about 500 MB to the service as a child process")
	}
	const uploads, budget = 8, 256 << 20
	spool := filepath.Join(t.TempDir(), "spool")
	c := startChild(t, "-spool", spool, "-max-concurrent", strconv.Itoa(uploads), "-max-bytes", strconv.Itoa(128<<20))
	defer func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		c.cmd.Wait()
	}()
	payloads := [][]byte{bomb(90 << 20), npzBomb(t, 65_536)}
	var wg sync.WaitGroup
	statuses := make([]int, uploads)
	for i := range uploads {
		wg.Add(1)
		go func() { defer wg.Done(); statuses[i] = post(t, c.addr, payloads[i%len(payloads)]) }()
	}
	wg.Wait()
	rss := c.peakRSS(t)
	t.Logf("peak RSS of the service after %d concurrent hostile uploads: %d MiB; statuses %v", uploads, rss>>20, statuses)
	for i, s := range statuses {
		want := http.StatusUnprocessableEntity // the header bomb: limit-exceeded
		if i%len(payloads) == 1 {
			want = http.StatusOK // the npz is valid, only large
		}
		assert.Equal(t, want, s, "upload %d", i)
	}
	assert.Less(t, rss, int64(budget))
}
