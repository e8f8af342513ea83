package testvectors

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVectorsLock holds scripts/vectors.lock to the vectors the tests read:
// every file (but the PROVENANCE.md notes) is locked with its digest, and
// every locked file is there, so that scripts/vectors.sh restores exactly
// what the tests need.
func TestVectorsLock(t *testing.T) {
	root, ok := Root()
	if !ok {
		Dir(t, "")
	}
	f, err := os.Open(filepath.Join("..", "..", "scripts", "vectors.lock"))
	require.NoError(t, err)
	defer f.Close()
	locked := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "#") {
			continue
		}
		fields := strings.Split(s.Text(), "\t")
		require.Len(t, fields, 5, "lock line %q: sha256, path, repository, commit, upstream path", s.Text())
		require.Len(t, fields[3], 40, "a full commit id: %q", s.Text())
		locked[fields[1]] = fields[0]
	}
	require.NoError(t, s.Err())
	seen := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "PROVENANCE.md" {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		want, ok := locked[rel]
		require.True(t, ok, "%s is not in scripts/vectors.lock", rel)
		require.Equal(t, want, hex.EncodeToString(sum[:]), "%s differs from scripts/vectors.lock", rel)
		seen++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, len(locked), seen, "scripts/vectors.lock names files the vectors folder lacks")
}
