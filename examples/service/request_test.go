package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"go/parser"
	"go/token"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// part is one field of a multipart upload.
type part struct {
	field, filename string
	body            []byte
}

// postParts sends parts as a multipart form and returns the status and the
// raw and decoded answer.
func postParts(t *testing.T, url string, parts ...part) (int, string, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.field, p.filename)
		} else {
			w, err = mw.CreateFormField(p.field)
		}
		require.NoError(t, err)
		_, err = w.Write(p.body)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	resp, err := http.Post(url+"/v1/models", mw.FormDataContentType(), &body)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	status, out := decode(t, &http.Response{StatusCode: resp.StatusCode, Body: io.NopCloser(bytes.NewReader(raw))})
	return status, string(raw), out
}

// serve starts the service with the policy text (keys relative to dir).
func serve(t *testing.T, policy, dir string) (string, Config) {
	t.Helper()
	p, err := verify.ParsePolicy([]byte(policy), dir)
	require.NoError(t, err)
	_, err = p.Checks()
	require.NoError(t, err)
	cfg := Config{Policy: p, Volume: t.TempDir(), MaxBytes: 1 << 20, Spool: filepath.Join(t.TempDir(), "spool")}
	require.NoError(t, cfg.Prepare())
	srv := httptest.NewServer(NewHandler(cfg))
	t.Cleanup(srv.Close)
	return srv.URL, cfg
}

// TestUploadCarriesItsSignature: with require: [signature], an upload is
// accepted with the bundle that signs it (a "bundle" part), and refused
// without it, with another file, or under another name; no answer names
// the spool (issue 22, finding 6).
func TestUploadCarriesItsSignature(t *testing.T) {
	keys := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(keys, "release.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	model := testdata(t, "safetensors/tiny-mlp.safetensors")
	signed := filepath.Join(t.TempDir(), "model.safetensors")
	require.NoError(t, os.WriteFile(signed, model, 0o644))
	bundle, err := signature.SignModel(context.Background(), signed, k, signature.SignOptions{})
	require.NoError(t, err)

	url, cfg := serve(t, "formats: [safetensors]\nrequire: [signature]\nsignatures: {keys: [release.pub]}\n", keys)
	tampered := append([]byte(nil), model...)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name   string
		parts  []part
		status int
		kind   string
	}{
		{"the model and its bundle", []part{{"model", "model.safetensors", model}, {"bundle", "model.sig", bundle}}, http.StatusOK, ""},
		{"the bundle first", []part{{"bundle", "", bundle}, {"model", "model.safetensors", model}}, http.StatusOK, ""},
		{"no bundle", []part{{"model", "model.safetensors", model}}, http.StatusUnprocessableEntity, "signature-invalid"},
		{"another file under the signed name", []part{{"model", "model.safetensors", tampered}, {"bundle", "", bundle}}, http.StatusUnprocessableEntity, "digest-mismatch"},
		{"a bundle that is not one", []part{{"model", "model.safetensors", model}, {"bundle", "", []byte("{}")}}, http.StatusUnprocessableEntity, "signature-invalid"},
		{"a bundle over 8 MiB", []part{{"model", "model.safetensors", model}, {"bundle", "", make([]byte, maxBundleBytes+1)}}, http.StatusRequestEntityTooLarge, "limit-exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.status == http.StatusRequestEntityTooLarge {
				cfg.MaxBytes = 16 << 20
				url2 := httptest.NewServer(NewHandler(cfg))
				defer url2.Close()
				url := url2.URL
				status, raw, out := postParts(t, url, tc.parts...)
				assert.Equal(t, tc.status, status, raw)
				assert.Equal(t, tc.kind, kind(out), raw)
				return
			}
			status, raw, out := postParts(t, url, tc.parts...)
			assert.Equal(t, tc.status, status, raw)
			assert.Equal(t, tc.kind, kind(out), raw)
			assert.NotContains(t, raw, cfg.Spool, "the spool's path never reaches the client")
			assert.NotContains(t, raw, "upload-", "nor the upload's directory")
			if tc.status == http.StatusOK {
				assert.Contains(t, raw, `"signer":`)
			}
		})
	}
}

// TestMalformedRequestsAre400: a request the client got wrong is 400
// (kind usage), not a refusal of a model; a well-formed request for a
// path outside the volume is still 422 path-traversal (issue 22,
// finding 6).
func TestMalformedRequestsAre400(t *testing.T) {
	url, cfg := serve(t, "formats: [safetensors]\n", ".")
	model := testdata(t, "safetensors/tiny-mlp.safetensors")
	byPath := func(body string) (int, map[string]any) {
		resp, err := http.Post(url+"/v1/models/by-path", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		return decode(t, resp)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		kind       string
	}{
		{"not JSON", `{"path":`, http.StatusBadRequest, "usage"},
		{"an unknown field", `{"path":"m","mode":"x"}`, http.StatusBadRequest, "usage"},
		{"no path", `{}`, http.StatusBadRequest, "usage"},
		{"two objects", `{"path":"m"}{"path":"n"}`, http.StatusBadRequest, "usage"},
		{"a path of the wrong type", `{"path":1}`, http.StatusBadRequest, "usage"},
		{"a path out of the volume", `{"path":"../etc/passwd"}`, http.StatusUnprocessableEntity, "path-traversal"},
		{"an absolute path", `{"path":"/etc/passwd"}`, http.StatusUnprocessableEntity, "path-traversal"},
		{"a missing model", `{"path":"absent"}`, http.StatusBadRequest, "io"},
	} {
		t.Run("by-path: "+tc.name, func(t *testing.T) {
			status, out := byPath(tc.body)
			assert.Equal(t, tc.status, status, "%v", out)
			assert.Equal(t, tc.kind, kind(out), "%v", out)
			msg, _ := out["error"].(map[string]any)["message"].(string)
			assert.NotContains(t, msg, cfg.Volume, "the volume's path never reaches the client")
		})
	}
	for _, tc := range []struct {
		name  string
		parts []part
	}{
		{"no model part", []part{{"bundle", "", []byte("{}")}}},
		{"two model parts", []part{{"model", "a.safetensors", model}, {"model", "b.safetensors", model}}},
		{"two bundle parts", []part{{"model", "a.safetensors", model}, {"bundle", "", []byte("{}")}, {"bundle", "", []byte("{}")}}},
		{"an unknown part", []part{{"model", "a.safetensors", model}, {"policy", "", []byte("formats: [npy]\n")}}},
		{"nothing", nil},
	} {
		t.Run("upload: "+tc.name, func(t *testing.T) {
			status, raw, out := postParts(t, url, tc.parts...)
			assert.Equal(t, http.StatusBadRequest, status, raw)
			assert.Equal(t, "usage", kind(out), raw)
		})
	}
	resp, err := http.Post(url+"/v1/models", "multipart/form-data; boundary=x", strings.NewReader("--x\r\nbroken"))
	require.NoError(t, err)
	status, out := decode(t, resp)
	assert.Equal(t, http.StatusBadRequest, status, "%v", out)
	assert.Equal(t, "usage", kind(out))
}

// TestUploadNamesOnlyItsOwnFile: the client's file name names the file
// inside the upload's own directory, and anything else becomes "model".
func TestUploadNamesOnlyItsOwnFile(t *testing.T) {
	for in, want := range map[string]string{
		"model.safetensors": "model.safetensors", "": "model", ".": "model", "..": "model",
		".bundle": "model", "a\\b": "model", "a\x00b": "model", "\xff.npy": "model",
		strings.Repeat("a", 256): "model", "données.npy": "données.npy",
	} {
		assert.Equal(t, want, uploadName(in), "%q", in)
	}
}

// TestHealthz: GET /healthz answers 200 {"ok":true}, even while every
// check slot is taken.
func TestHealthz(t *testing.T) {
	url, cfg := serve(t, "formats: [safetensors]\n", ".")
	for range cap(cfg.slots) {
		cfg.slots <- struct{}{}
	}
	resp, err := http.Get(url + "/healthz")
	require.NoError(t, err)
	status, out := decode(t, resp)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"ok": true}, out)
	resp, err = http.Post(url+"/healthz", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestImportsNothingInternal: the service imports only modelgate's public
// packages, so it can be copied out of the module and still build.
func TestImportsNothingInternal(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range parsed.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			assert.False(t, p == "internal" || strings.HasPrefix(p, "internal/") || strings.Contains(p, "/internal/") || strings.HasSuffix(p, "/internal"),
				"%s imports %s, which a copy outside the module cannot", f, p)
		}
	}
}
