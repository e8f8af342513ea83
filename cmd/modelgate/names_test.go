package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
