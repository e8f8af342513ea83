//go:build !modelgate_lean

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/loader"
)

// TestScanNamesTheMostSevereRefusal: scan's headline (the error line) and
// JSON's error name the most severe refusal of the scan
// (formats.KindsBySeverity), not the first file refused in name order
// (issue 22, finding 6).
func TestScanNamesTheMostSevereRefusal(t *testing.T) {
	pickle, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pickle", "proto4.pkl"))
	require.NoError(t, err)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	blob := []byte{0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04, 0xff, 0xfe}
	malformed := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'} // a safetensors header length past the file
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		kind  string
		path  string // the file the headline names
	}{
		{"a pickle before an image", map[string][]byte{"a-logo.png": png, "docs/b.png": png, "z-model.bin": pickle}, "pickle", "z-model.bin"},
		{"code before an unknown format", map[string][]byte{"a.dat": blob, "modeling_x.py": []byte("import os\n")}, "code", "modeling_x.py"},
		{"a pickle before malformed weights", map[string][]byte{"a.safetensors": malformed, "b.npy": pickle}, "pickle", "b.npy"},
		{"malformed before an unknown format", map[string][]byte{"a.dat": blob, "b.safetensors": malformed}, "malformed", "b.safetensors"},
		{"the first of equals", map[string][]byte{"a.dat": blob, "b.dat": blob}, "unknown-format", "a.dat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tc.files {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
			}
			code, _, errs := cliRun("scan", dir)
			assert.Equal(t, 1, code)
			assert.Regexp(t, `^modelgate: error: \S*/`+tc.path+`: \d+ of \d+ files refused; the most severe: `, errs)

			code, out, _ := cliRun("scan", "--json", dir)
			assert.Equal(t, 1, code)
			var res struct {
				Error struct{ Kind, Path string }
			}
			require.NoError(t, json.Unmarshal([]byte(out), &res), out)
			assert.Equal(t, tc.kind, res.Error.Kind)
			assert.Equal(t, filepath.Join(dir, tc.path), res.Error.Path)
		})
	}
}

// TestSeveralFormatsSaysWhatToDo: verify refuses a repository that ships
// model.safetensors beside pytorch_model.bin (a pickle), tf_model.h5 and
// flax_model.msgpack, with the pickle's kind; its message says what
// loads and what does not, and the hint what to do: fetch or keep only
// the files loaded, or convert the verified tensors (issue 22, finding 6).
func TestSeveralFormatsSaysWhatToDo(t *testing.T) {
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", rel))
		require.NoError(t, err)
		return b
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{
		"model.safetensors":  read("safetensors/tiny-mlp.safetensors"),
		"pytorch_model.bin":  read("pickle/torch-zip.pt"),
		"tf_model.h5":        append([]byte("\x89HDF\r\n\x1a\n"), make([]byte, 64)...),
		"flax_model.msgpack": []byte("\x81\xa6params\x80"),
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	code, out, errs := cliRun("verify", "--json", "--sha256", "0000000000000000000000000000000000000000000000000000000000000000", dir)
	assert.Equal(t, 1, code, errs)
	assert.Equal(t, "pickle", jsonKind(t, out))
	assert.Contains(t, errs, "the model ships several formats: model.safetensors, which load, beside flax_model.msgpack, pytorch_model.bin, tf_model.h5, which a consumer may load instead")

	_, err := loader.Open(t.Context(), dir)
	h := hint(err)
	assert.Contains(t, h, "hf download REPO --include '*.safetensors' '*.json'")
	assert.Contains(t, h, "allow_patterns")
	assert.Contains(t, h, "delete flax_model.msgpack, pytorch_model.bin, tf_model.h5")
	assert.Contains(t, h, "modelgate convert --to safetensors, with verify's flags, on model.safetensors")
}
