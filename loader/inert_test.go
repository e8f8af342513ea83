package loader_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// TestInertOnlyDirectory: a directory of inert files only (a tokenizer
// repository, a signed checksum list) is accepted with no tensors once
// digests cover every file, as model_signing accepts such a model; with
// nothing approving it, or with a file left uncovered, it is refused; a
// single inert file is never a model.
func TestInertOnlyDirectory(t *testing.T) {
	dir := t.TempDir()
	readme, vocab := []byte("# a tokenizer\n"), []byte(`{"version": "1.0", "model": {"type": "BPE"}}`)
	writeFile(t, filepath.Join(dir, "README.md"), readme)
	writeFile(t, filepath.Join(dir, "tokenizer.json"), vocab)
	both, _ := verify.NewAllowlist(verify.NewEntry("README.md", verify.SHA256, sha(readme)), verify.NewEntry("tokenizer.json", verify.SHA256, sha(vocab)))
	one, _ := verify.NewAllowlist(verify.NewEntry("README.md", verify.SHA256, sha(readme)))
	for _, tc := range []struct {
		name string
		path string
		opts []loader.Option
		want formats.Kind
	}{
		{"covered", dir, []loader.Option{loader.WithAllowlist(both)}, ""},
		{"nothing approves it", dir, nil, formats.KindUnknownFormat},
		{"a file uncovered", dir, []loader.Option{loader.WithAllowlist(one)}, formats.KindNotAllowlisted},
		{"a single inert file", filepath.Join(dir, "README.md"), []loader.Option{loader.WithAllowlist(both)}, formats.KindUnknownFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := loader.Open(ctx, tc.path, tc.opts...)
			if tc.want != "" {
				require.Error(t, err)
				assert.Equal(t, tc.want, formats.KindOf(err), "%v", err)
				return
			}
			require.NoError(t, err)
			defer m.Close()
			assert.Empty(t, m.Tensors)
			assert.True(t, m.Verified.Allowlisted)
			assert.Len(t, m.Verified.Digests, 2)
		})
	}
}
