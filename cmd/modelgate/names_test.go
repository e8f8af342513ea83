//go:build !modelgate_lean

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/safetext"
)

// cli runs the CLI in process and returns its exit code and outputs.
func cliRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestHostileNamesNeverReachTheTerminalRaw: file names, tensor names and
// metadata keys with ESC, CR, LF, C1 controls, bidi overrides and invalid
// UTF-8 are escaped in every text output, kept distinct in JSON, and
// percent-encoded in SARIF (issue 18, findings 7 and 8).
func TestHostileNamesNeverReachTheTerminalRaw(t *testing.T) {
	dir := t.TempDir()
	pickle, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pickle", "proto4.pkl"))
	require.NoError(t, err)
	evil := "evil\x1b[2K\r\x1b[1Aaccepted\u202e\u009b31m.pkl"
	require.NoError(t, os.WriteFile(filepath.Join(dir, evil), pickle, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "w\xff.npy"), pickle, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "w\xfe.npy"), pickle, 0o644))
	// A safetensors file whose tensor name and metadata key inject rows.
	hdr := `{"__metadata__":{"k\u001b[31m":"v\n"},"x\nfake  F32  [1]  0  4\u001b[2K":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`
	pad := strings.Repeat(" ", (8-len(hdr)%8)%8)
	st := append(append([]byte{byte(len(hdr + pad)), 0, 0, 0, 0, 0, 0, 0}, hdr+pad...), 1)
	stPath := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, os.WriteFile(stPath, st, 0o644))

	raw := func(t *testing.T, what, s string) {
		t.Helper()
		for _, bad := range []string{"\x1b", "\r", "\u202e", "\u009b", "\xff", "\xfe"} {
			assert.NotContains(t, s, bad, "%s prints %q raw", what, bad)
		}
	}
	code, out, errs := cliRun("scan", dir)
	assert.Equal(t, 1, code)
	raw(t, "scan", out+errs)
	assert.Equal(t, 5, strings.Count(out, "\n"), "a header, one line per file and the summary: no injected lines\n%s", out)
	assert.Contains(t, out, `evil\x1b[2K\x0d`)

	code, out, _ = cliRun("scan", "--json", dir)
	assert.Equal(t, 1, code)
	var res struct {
		Files []struct {
			Path        string `json:"path"`
			PathEscaped string `json:"path_escaped"`
		} `json:"files"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	escaped := map[string]bool{}
	for _, f := range res.Files {
		if f.PathEscaped != "" {
			escaped[f.PathEscaped] = true
		}
	}
	assert.Len(t, escaped, 2, "w\\xff.npy and w\\xfe.npy stay distinct in JSON: %s", out)

	sarif := filepath.Join(t.TempDir(), "out.sarif")
	cliRun("scan", "--sarif", sarif, dir)
	b, err := os.ReadFile(sarif)
	require.NoError(t, err)
	assert.Contains(t, string(b), "w%FF.npy")
	assert.Contains(t, string(b), "w%FE.npy")
	assert.Contains(t, string(b), "%1B%5B2K%0D", "SARIF URIs are percent-encoded")

	code, out, errs = cliRun("inspect", stPath)
	assert.Equal(t, 0, code, errs)
	raw(t, "inspect", out)
	assert.NotContains(t, out, "\nfake", "a tensor name cannot inject a row")

	code, _, errs = cliRun("inspect", filepath.Join(dir, evil))
	assert.Equal(t, 1, code)
	raw(t, "the error line", errs)
}

// TestJSONKeepsNamesDistinct: names that differ only in bytes that are not
// UTF-8 stay distinct in every JSON output, escaped as the text output
// escapes them (safetext: \xNN, a backslash doubled), where encoding/json
// alone writes both as "w\ufffd.npy" (issue 22, finding 6).
func TestJSONKeepsNamesDistinct(t *testing.T) {
	npy, err := os.ReadFile(filepath.Join("..", "..", "testdata", "npy", "fortran.npy"))
	require.NoError(t, err)
	pickle, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pickle", "proto4.pkl"))
	require.NoError(t, err)
	dir := t.TempDir()
	for _, name := range []string{"w\xff.npy", "w\xfe.npy", `w\xff.npy`} { // the last is valid UTF-8: a backslash, x, f, f
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), npy, 0o644))
	}
	want := []string{`w\\xff.npy`, `w\xfe.npy`, `w\xff.npy`} // sorted as the bytes are

	names := func(out, list, member string) []string {
		var res map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		var got []string
		for _, f := range res[list].([]any) {
			got = append(got, f.(map[string]any)[member].(string))
		}
		return got
	}
	// The walker (internal/modeltree) refuses a name that is not UTF-8
	// wherever a model is read, since sums files and manifests could not
	// name it; hash refuses the directory, and scan reports each such file
	// refused, every name still distinct.
	code, out, errs := cliRun("hash", "--json", dir)
	require.Equal(t, 1, code, errs)
	assert.Contains(t, out, `"kind": "unsupported"`)

	code, out, errs = cliRun("scan", "--json", dir)
	require.Equal(t, 1, code, errs)
	assert.Equal(t, want, stripDir(names(out, "files", "path"), dir))

	// verify reads a file alone (the loader refuses a directory holding a
	// name that is not UTF-8, which the walker's owner decides), approved
	// by a policy's digest without a name.
	sum := sha256.Sum256(npy)
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(policy, []byte("digests: [{sha256: \""+hex.EncodeToString(sum[:])+"\"}]\n"), 0o644))
	for _, name := range []string{"w\xff.npy", "w\xfe.npy"} {
		code, out, errs = cliRun("verify", "--json", "--policy", policy, filepath.Join(dir, name))
		require.Equal(t, 0, code, errs)
		assert.Equal(t, []string{safetext.Escape(name)}, names(out, "files", "name"))
	}

	// A refusal's path and message name the file as stderr does.
	bad := filepath.Join(t.TempDir(), "p\xff.bin")
	require.NoError(t, os.WriteFile(bad, pickle, 0o644))
	code, out, errs = cliRun("inspect", "--json", bad)
	require.Equal(t, 1, code)
	var res struct {
		Error struct{ Kind, Path, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, "pickle", res.Error.Kind)
	assert.Equal(t, `p\xff.bin`, filepath.Base(res.Error.Path))
	assert.Contains(t, res.Error.Message, `p\xff.bin`)
	assert.Contains(t, errs, `p\xff.bin`)
}

// stripDir makes names under dir relative to it.
func stripDir(names []string, dir string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimPrefix(n, dir+"/")
	}
	return out
}
