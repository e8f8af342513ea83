//go:build !modelgate_lean

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConvertRefusesWhatVerifyRefuses: convert "verifies IN as verify
// does", so the same input and flags give both commands the same exit code
// and kind; a refused convert writes nothing (issue 22, finding 5).
func TestConvertRefusesWhatVerifyRefuses(t *testing.T) {
	td := func(rel string) string { return filepath.Join("..", "..", "testdata", rel) }
	sum := func(rel string) string {
		b, err := os.ReadFile(td(rel))
		require.NoError(t, err)
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	mlp := td("safetensors/tiny-mlp.safetensors")
	sums := write("SHA256SUMS", sum("safetensors/tiny-mlp.safetensors")+"  "+mustAbs(t, mlp)+"\n")
	noDigests := write("formats.yaml", "formats: [safetensors]\n")
	withDigests := write("digests.yaml", "digests:\n  - {sha256: \""+sum("safetensors/tiny-mlp.safetensors")+"\"}\n")
	zero := "0000000000000000000000000000000000000000000000000000000000000000"

	for _, tc := range []struct {
		name string
		args []string
		code int
		kind string // "" when accepted
	}{
		{"nothing to verify against", []string{mlp}, 1, "not-allowlisted"},
		{"a policy with no digests or signatures is nothing to verify against", []string{"--policy", noDigests, mlp}, 1, "not-allowlisted"},
		{"excluding every inert file leaves weights uncovered", []string{"--exclude", "*", mlp}, 1, "not-allowlisted"},
		{"a pickle is a pickle before anything else", []string{td("pickle/proto4.pkl")}, 1, "pickle"},
		{"a pickle with its digest approved", []string{"--sha256", sum("pickle/proto4.pkl"), td("pickle/proto4.pkl")}, 1, "pickle"},
		{"the approved digest", []string{"--sha256", sum("safetensors/tiny-mlp.safetensors"), mlp}, 0, ""},
		{"a sums file", []string{"--sha256-file", sums, mlp}, 0, ""},
		{"a policy's digests", []string{"--policy", withDigests, mlp}, 0, ""},
		{"another digest", []string{"--sha256", zero, mlp}, 1, "digest-mismatch"},
		{"the MLX profile, digest approved", []string{"--profile", "mlx", "--sha256", sum("npy/v3.npy"), td("npy/v3.npy")}, 1, "unsupported"},
		{"two digest sources", []string{"--sha256", zero, "--sha256-file", sums, mlp}, 2, "usage"},
		{"a bundle with no signer named", []string{"--bundle", sums, mlp}, 2, "usage"},
		{"a missing file", []string{"--sha256", zero, filepath.Join(dir, "absent.safetensors")}, 3, "io"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vcode, vout, verr := cliRun(append([]string{"verify", "--json"}, tc.args...)...)
			out := filepath.Join(t.TempDir(), "out.safetensors")
			ccode, cout, cerr := cliRun(append(append([]string{"convert", "--json", "--to", "safetensors"}, tc.args...), out)...)
			assert.Equal(t, tc.code, vcode, "verify: %s", verr)
			assert.Equal(t, tc.code, ccode, "convert: %s", cerr)
			assert.Equal(t, tc.kind, jsonKind(t, vout), "verify")
			assert.Equal(t, tc.kind, jsonKind(t, cout), "convert")
			if _, err := os.Stat(out); tc.code == 0 {
				assert.NoError(t, err, "an accepted convert writes OUT")
			} else {
				assert.ErrorIs(t, err, os.ErrNotExist, "a refused convert writes nothing")
			}
		})
	}
}

// jsonKind is the error kind of a --json output ("" when ok).
func jsonKind(t *testing.T, out string) string {
	t.Helper()
	var res struct {
		OK    bool `json:"ok"`
		Error struct {
			Kind string `json:"kind"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	if res.OK {
		return ""
	}
	return res.Error.Kind
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	require.NoError(t, err)
	return a
}
