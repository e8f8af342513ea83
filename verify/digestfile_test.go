package verify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
)

// FuzzDigestFile reads any bytes as a checksum file (both algorithms) and
// rebases its names onto a model directory: no panic, every refusal of a
// known kind, and every name it keeps a clean name inside the model.
func FuzzDigestFile(f *testing.F) {
	h := strings.Repeat("a", 64)
	for _, s := range []string{
		"", "\n\n", h + "  model/a.safetensors\n", h + " *model/b\n" + h + "  elsewhere\n",
		`\` + h + `  model/a\nb` + "\n", "SHA256 (model/x) = " + h + "\n", "BLAKE3 (../x) = " + h + "\n",
		h + "  /abs/model/x\n", "version https://git-lfs.github.com/spec/v1\noid sha256:" + h + "\nsize 12\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "SUMS")
		require.NoError(t, os.WriteFile(p, b, 0o644))
		for _, a := range []verify.Algorithm{verify.SHA256, verify.BLAKE3} {
			df, err := verify.ReadDigestFile(p, a)
			if err != nil {
				require.Contains(t, []formats.Kind{formats.KindMalformed, formats.KindUsage, formats.KindPathTraversal}, formats.KindOf(err), "%v", err)
				continue
			}
			entries, err := df.For(filepath.Join(dir, "model"))
			if err != nil {
				require.Equal(t, formats.KindUsage, formats.KindOf(err), "%v", err)
				continue
			}
			require.NotEmpty(t, entries)
			for _, e := range entries {
				require.True(t, e.Name == "" || filepath.IsLocal(e.Name), "%q", e.Name)
			}
		}
	})
}
