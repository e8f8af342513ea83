//go:build linux

package loader_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/memfd"
	"github.com/modelgate/modelgate/loader"
)

// TestSealHoldsTheVerifiedBytes seals each format and reads the sealed
// file back: GGUF and npy byte for byte as verified, everything else as
// the canonical safetensors WriteSafetensors (and so convert) writes.
func TestSealHoldsTheVerifiedBytes(t *testing.T) {
	for _, tc := range []struct {
		file    string
		profile []loader.Option
		want    formats.Format
	}{
		{"safetensors/tiny-mlp.safetensors", nil, formats.FormatSafetensors},
		{"safetensors/every-dtype.safetensors", nil, formats.FormatSafetensors},
		{"npz/savez_compressed.npz", nil, formats.FormatSafetensors},
		{"npy/le-f4.npy", nil, formats.FormatNpy},
		{"npy/be-f4.npy", nil, formats.FormatNpy},
		{"gguf/mlx-quantized.gguf", []loader.Option{loader.WithProfile(loader.ProfileMLX)}, formats.FormatGGUF},
	} {
		t.Run(tc.file, func(t *testing.T) {
			for _, mode := range []loader.Mode{loader.ModeMap, loader.ModeReadAt, loader.ModePrivateCopy} {
				p := filepath.Join("..", "testdata", tc.file)
				m, err := loader.Open(context.Background(), p, append(tc.profile, loader.WithMode(mode))...)
				require.NoError(t, err)
				assert.Equal(t, tc.want, m.SealFormat())
				f, err := m.Seal()
				require.NoError(t, err)
				require.NoError(t, memfd.Check(f))
				got, err := io.ReadAll(f)
				require.NoError(t, err)
				var want []byte
				if tc.want == formats.FormatSafetensors {
					var buf bytes.Buffer
					require.NoError(t, m.WriteSafetensors(&buf))
					want = buf.Bytes()
				} else {
					want, err = os.ReadFile(p)
					require.NoError(t, err)
				}
				assert.Equal(t, want, got, "mode %s", mode)
				require.NoError(t, f.Close())
				require.NoError(t, m.Close())
			}
		})
	}
}

// TestSealedBytesOutliveTheModelAndItsPath rewrites the model's file in
// place and replaces it after sealing: the sealed file still holds what
// was verified, also after the Model is closed.
func TestSealedBytesOutliveTheModelAndItsPath(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("..", "testdata", "npy", "le-f4.npy"))
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "w.npy")
	require.NoError(t, os.WriteFile(p, orig, 0o644))
	m, err := loader.Open(context.Background(), p)
	require.NoError(t, err)
	f, err := m.Seal()
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, m.Close())
	w, err := os.OpenFile(p, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = w.WriteAt(bytes.Repeat([]byte{0xEE}, len(orig)-128), 128)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, os.WriteFile(p+".new", []byte("swapped"), 0o644))
	require.NoError(t, os.Rename(p+".new", p))
	got, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	require.NoError(t, err)
	assert.Equal(t, orig, got)
}

// TestSealRefusesWhatConvertRefuses: one GGUF file is sealed as
// verified, quantized tensors and all; beside another weight file it must
// become safetensors, which has no quantized dtype outside the MLX
// profile, and Seal refuses as convert does.
func TestSealRefusesWhatConvertRefuses(t *testing.T) {
	every := filepath.Join("..", "testdata", "gguf", "every.gguf")
	m, err := loader.Open(context.Background(), every)
	require.NoError(t, err)
	f, err := m.Seal()
	require.NoError(t, err)
	f.Close()
	m.Close()

	dir := t.TempDir()
	for src, dst := range map[string]string{every: "a.gguf", filepath.Join("..", "testdata", "npy", "le-f4.npy"): "b.npy"} {
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, dst), b, 0o644))
	}
	m, err = loader.Open(context.Background(), dir)
	require.NoError(t, err)
	defer m.Close()
	_, err = m.Seal()
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%v", err)
}
