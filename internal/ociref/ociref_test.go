package ociref

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsReference(t *testing.T) {
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	require.NoError(t, os.Mkdir(layout, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(layout, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
	linked := filepath.Join(dir, "linked")
	require.NoError(t, os.Mkdir(linked, 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(linked, "oci-layout"), 0o755)) // a folder so named is no layout
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"oci://registry.example/m:v1", true},
		{"oci://registry.example", true},
		{"oci-layout:" + layout, true},
		{"oci-layout:relative", true},
		{layout, true},
		{linked, false},
		{dir, false},
		{filepath.Join(dir, "absent"), false},
		{"model.safetensors", false},
		{"OCI://registry.example/m:v1", false},
		{"", false},
	} {
		assert.Equal(t, c.want, IsReference(c.s), "%q", c.s)
	}
}
