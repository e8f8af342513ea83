//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/modelgate/modelgate/loader"
)

// startWorker builds examples/worker and starts it on a socket in a fresh
// directory: a separate process, as in production.
func startWorker(t *testing.T) string {
	dir := t.TempDir()
	bin := filepath.Join(dir, "worker")
	out, err := exec.Command("go", "build", "-o", bin, "../worker").CombinedOutput()
	require.NoError(t, err, "%s", out)
	sock := filepath.Join(dir, "worker.sock")
	cmd := exec.Command(bin, "-socket", sock)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		require.True(t, time.Now().Before(deadline), "the worker did not start")
	}
}

// TestServiceHandsTheWorkerTheSealedFile uploads a model to the service,
// which hands the worker process the sealed verified bytes: the digests
// the worker computes from its mapping are those of the verified tensors.
func TestServiceHandsTheWorkerTheSealedFile(t *testing.T) {
	sock := startWorker(t)
	cfg := Config{Worker: sock, Spool: filepath.Join(t.TempDir(), "spool"), MaxBytes: 1 << 20}
	require.NoError(t, cfg.Prepare())
	srv := httptest.NewServer(NewHandler(cfg))
	defer srv.Close()
	for _, rel := range []string{"safetensors/tiny-mlp.safetensors", "npz/streamed.npz"} {
		status, out := upload(t, srv.URL, testdata(t, rel))
		require.Equal(t, http.StatusOK, status, "%v", out)
		var worker WorkerAnswer
		raw, _ := json.Marshal(out["worker"])
		require.NoError(t, json.Unmarshal(raw, &worker))
		require.True(t, worker.OK, "%v", out)
		assert.Equal(t, "safetensors", string(worker.Format))

		p := filepath.Join(t.TempDir(), filepath.Base(rel))
		require.NoError(t, os.WriteFile(p, testdata(t, rel), 0o644))
		m, err := loader.Open(context.Background(), p)
		require.NoError(t, err)
		want := map[string]string{}
		for _, tn := range m.Tensors {
			b, err := m.Bytes(tn.Name)
			require.NoError(t, err)
			sum := sha256.Sum256(b)
			want[tn.Name] = hex.EncodeToString(sum[:])
		}
		m.Close()
		assert.Equal(t, want, worker.Tensors, rel)
	}
}

// TestWorkerRefusesAnUnsealedFile: a descriptor of a file on disk, which
// its sender could still change, is refused.
func TestWorkerRefusesAnUnsealedFile(t *testing.T) {
	sock := startWorker(t)
	p := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, os.WriteFile(p, testdata(t, "safetensors/tiny-mlp.safetensors"), 0o644))
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	_, _, err = c.(*net.UnixConn).WriteMsgUnix([]byte(`{"format":"safetensors","size":1211}`), unix.UnixRights(int(f.Fd())), nil)
	require.NoError(t, err)
	var a WorkerAnswer
	require.NoError(t, json.NewDecoder(c).Decode(&a))
	assert.False(t, a.OK)
	assert.Contains(t, a.Error, "not sealed")
}

// TestServiceRefusesWhatTheSealCannotHandOver: an npz holding F64 passes
// the MLX profile (MLX reads <f8 npy exactly) but has no faithful
// canonical safetensors for MLX, so the hand-off is a refusal of the
// model (422, unsupported), not a failure of the worker.
func TestServiceRefusesWhatTheSealCannotHandOver(t *testing.T) {
	sock := startWorker(t)
	cfg := Config{Worker: sock, Spool: filepath.Join(t.TempDir(), "spool"), MaxBytes: 1 << 20}
	require.NoError(t, cfg.Prepare())
	srv := httptest.NewServer(NewHandler(cfg))
	defer srv.Close()
	status, out := upload(t, srv.URL, testdata(t, "npz/savez.npz"))
	require.Equal(t, http.StatusUnprocessableEntity, status, "%v", out)
	assert.Equal(t, "unsupported", out["error"].(map[string]any)["kind"], "%v", out)
}
