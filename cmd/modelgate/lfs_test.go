//go:build !modelgate_lean

package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLFSPointer: a Git LFS pointer given as --sha256-file approves the
// file whose oid it names, and nothing else.
func TestLFSPointer(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "safetensors", "tiny-mlp.safetensors"))
	require.NoError(t, err)
	dir := t.TempDir()
	model := filepath.Join(dir, "model.safetensors")
	require.NoError(t, os.WriteFile(model, b, 0o644))
	ptr := filepath.Join(dir, "model.safetensors.pointer")
	require.NoError(t, os.WriteFile(ptr, fmt.Appendf(nil, "version https://git-lfs.github.com/spec/v1\noid sha256:%x\nsize %d\n", sha256.Sum256(b), len(b)), 0o644))
	var out, errb bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"verify", "--sha256-file", ptr, model}, &out, &errb), errb.String())
	other := filepath.Join(dir, "other.safetensors")
	require.NoError(t, os.WriteFile(other, append(bytes.Clone(b[:len(b)-1]), b[len(b)-1]^1), 0o644))
	assert.Equal(t, exitRefused, run([]string{"verify", "--sha256-file", ptr, other}, &out, &errb))
}
