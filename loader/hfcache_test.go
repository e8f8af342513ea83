package loader_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// hubCache lays out a Hugging Face cache repository: weights stored as a
// Git LFS blob (named by its sha256), config.json as a git blob (a sha1
// name), and a snapshot of links to them. It returns the snapshot.
func hubCache(t *testing.T) (snapshot, blobs string) {
	repo := filepath.Join(t.TempDir(), "hub", "models--acme--tiny")
	blobs = filepath.Join(repo, "blobs")
	snapshot = filepath.Join(repo, "snapshots", "0123abcd")
	require.NoError(t, os.MkdirAll(blobs, 0o755))
	require.NoError(t, os.MkdirAll(snapshot, 0o755))
	weights := testdata(t, "safetensors/tiny-mlp.safetensors")
	sum := sha256.Sum256(weights)
	lfs := hex.EncodeToString(sum[:])
	writeFile(t, filepath.Join(blobs, lfs), weights)
	writeFile(t, filepath.Join(blobs, "8c2f7cfa3bd8b1e8e4f0c6f0b8a1a2b3c4d5e6f7"), []byte(`{"model_type": "mlp"}`))
	require.NoError(t, os.Symlink("../../blobs/"+lfs, filepath.Join(snapshot, "model.safetensors")))
	require.NoError(t, os.Symlink("../../blobs/8c2f7cfa3bd8b1e8e4f0c6f0b8a1a2b3c4d5e6f7", filepath.Join(snapshot, "config.json")))
	return snapshot, blobs
}

// TestHubCacheSnapshot: a cache snapshot opens and scans by its snapshot
// names, confined to its repository folder; LFS blobs are checked against
// their names when hashed; a link leaving blobs/ is refused (issue 16).
func TestHubCacheSnapshot(t *testing.T) {
	snap, blobs := hubCache(t)
	m, err := loader.Open(ctx, snap)
	require.NoError(t, err, "a snapshot opens without --root")
	require.Len(t, m.Files, 1)
	assert.Equal(t, "model.safetensors", m.Files[0].Name, "reported by its snapshot name")
	m.Close()

	a := allowlistOf(t, snap)
	m, err = loader.Open(ctx, snap, loader.WithAllowlist(a))
	require.NoError(t, err)
	assert.Equal(t, []string{"model.safetensors"}, m.Verified.CacheBlobs, "the LFS blob matched its name")
	m.Close()

	res, err := loader.Scan(ctx, []string{snap}, loader.ScanOptions{})
	require.NoError(t, err)
	for _, r := range res {
		assert.NotEqual(t, loader.Refused, r.Verdict, "%+v", r)
	}

	// A blob whose content no longer matches its name, even when the
	// allowlist approves the new content.
	entries, _ := os.ReadDir(blobs)
	for _, e := range entries {
		if len(e.Name()) == 64 {
			b := testdata(t, "safetensors/tiny-mlp.safetensors")
			b[len(b)-1] ^= 1
			writeFile(t, filepath.Join(blobs, e.Name()), b)
		}
	}
	_, err = loader.Open(ctx, snap, loader.WithAllowlist(allowlistOf(t, snap)))
	assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "cache blob")

	// A link out of blobs/, though inside the repository folder.
	snap, _ = hubCache(t)
	writeFile(t, filepath.Join(filepath.Dir(filepath.Dir(snap)), "refs"), []byte("main"))
	require.NoError(t, os.Symlink("../../refs", filepath.Join(snap, "notes.txt")))
	_, err = loader.Open(ctx, snap)
	assert.Equal(t, formats.KindPathTraversal, formats.KindOf(err), "%v", err)
	res, err = loader.Scan(ctx, []string{snap}, loader.ScanOptions{})
	require.NoError(t, err)
	var kinds []formats.Kind
	for _, r := range res {
		kinds = append(kinds, r.Kind)
	}
	assert.Contains(t, kinds, formats.KindPathTraversal)
}
