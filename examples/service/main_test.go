package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/verify"
)

func testdata(t *testing.T, rel string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", rel))
	require.NoError(t, err)
	return b
}

func upload(t *testing.T, url string, b []byte) (int, map[string]any) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("model", "../../etc/evil.safetensors")
	require.NoError(t, err)
	_, err = fw.Write(b)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	resp, err := http.Post(url+"/v1/models", mw.FormDataContentType(), &body)
	require.NoError(t, err)
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, map[string]any) {
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

func kind(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	s, _ := e["kind"].(string)
	return s
}

// TestService starts the real server on a loopback port and exercises
// accept and refuse paths over HTTP.
func TestService(t *testing.T) {
	outbox, volume := t.TempDir(), t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(volume, "mlp"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(volume, "mlp", "model.safetensors"), testdata(t, "safetensors/tiny-mlp.safetensors"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(volume, "mlp", "config.json"), []byte(`{"model_type":"mlp"}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(volume, "bad.npy"), testdata(t, "npy/v3.npy"), 0o644))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(volume, "escape.safetensors")))
	policy, err := verify.ParsePolicy([]byte("formats: [safetensors, npz]\n"), ".")
	require.NoError(t, err)
	outside := filepath.Join(t.TempDir(), "secret.safetensors")
	require.NoError(t, os.WriteFile(outside, testdata(t, "safetensors/tiny-mlp.safetensors"), 0o600))
	require.NoError(t, os.Link(outside, filepath.Join(volume, "hardlink.safetensors")))
	cfg := Config{Policy: policy, Outbox: outbox, OutboxMode: 0o640, Volume: volume, MaxBytes: 64 << 10, Spool: filepath.Join(t.TempDir(), "spool")}
	require.NoError(t, cfg.Prepare())
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = NewServer(cfg)
	srv.Start()
	defer srv.Close()

	status, out := upload(t, srv.URL, testdata(t, "safetensors/tiny-mlp.safetensors"))
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.Equal(t, true, out["ok"])
	assert.Len(t, out["tensors"], 6)
	written := out["outbox"].(string)
	assert.Equal(t, outbox, filepath.Dir(written))
	b, err := os.ReadFile(written)
	require.NoError(t, err)
	_, err = safetensors.NewReaderBytes(b, formats.Limits{})
	assert.NoError(t, err, "the outbox holds a canonical safetensors file")
	st, err := os.Stat(written)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640)&^cfg.umask, st.Mode().Perm(), "outbox files have the operator's mode, not 0600")

	for name, tc := range map[string]struct {
		file   string
		status int
		kind   formats.Kind
	}{
		"pytorch pickle":      {"pickle/torch-zip.pt", http.StatusUnprocessableEntity, formats.KindPickle},
		"object npy":          {"npy/hostile/object.npy", http.StatusUnprocessableEntity, formats.KindPickle},
		"npy not in policy":   {"npy/le-f4.npy", http.StatusUnprocessableEntity, formats.KindUnsupported},
		"zip bomb over limit": {"npz/hostile/zeros-bomb.npz", http.StatusRequestEntityTooLarge, formats.KindLimitExceeded},
	} {
		t.Run(name, func(t *testing.T) {
			status, out := upload(t, srv.URL, testdata(t, tc.file))
			assert.Equal(t, tc.status, status)
			assert.Equal(t, string(tc.kind), kind(out), "%v", out)
		})
	}

	byPath := func(p string) (int, map[string]any) {
		resp, err := http.Post(srv.URL+"/v1/models/by-path", "application/json", bytes.NewReader([]byte(`{"path":"`+p+`"}`)))
		require.NoError(t, err)
		return decode(t, resp)
	}
	status, out = byPath("mlp")
	assert.Equal(t, http.StatusOK, status, "a model directory: %v", out)
	status, out = byPath("bad.npy")
	assert.Equal(t, string(formats.KindUnsupported), kind(out), "an npy MLX cannot read (format 3.0) under the MLX profile: %v", out)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	status, out = byPath("../../etc/passwd")
	assert.Equal(t, string(formats.KindPathTraversal), kind(out))
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	status, out = byPath("escape.safetensors")
	assert.Equal(t, string(formats.KindPathTraversal), kind(out), "%v", out)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	status, out = byPath("hardlink.safetensors")
	assert.Equal(t, string(formats.KindPathTraversal), kind(out), "a hard link to a file outside the volume: %v", out)
	assert.Equal(t, http.StatusUnprocessableEntity, status)

	resp, err := http.Post(srv.URL+"/v1/models", "text/plain", bytes.NewReader([]byte("x")))
	require.NoError(t, err)
	status, _ = decode(t, resp)
	assert.Equal(t, http.StatusBadRequest, status)
}
