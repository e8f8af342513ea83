package modeltree_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/modeltree"
)

func write(t *testing.T, p string, b string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(b), 0o644))
}

func names(m *modeltree.Model) []string {
	var out []string
	for _, f := range m.Files {
		out = append(out, f.Name)
	}
	return out
}

func TestVersionControlOnlyAtTheTop(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "w.safetensors"), "x")
	write(t, filepath.Join(dir, ".git", "lfs", "objects", "ab", "w"), "copy of the weights")
	write(t, filepath.Join(dir, ".hg", "store", "x"), "x")
	write(t, filepath.Join(dir, ".svn", "wc.db"), "x")
	write(t, filepath.Join(dir, ".gitattributes"), "*.safetensors filter=lfs\n")
	write(t, filepath.Join(dir, "sub", ".git", "w.safetensors"), "nested")
	write(t, filepath.Join(dir, "sub", ".hg", "x"), "nested")
	m, err := modeltree.List(dir, modeltree.Options{})
	require.NoError(t, err)
	require.NoError(t, m.Err())
	assert.Equal(t, []string{".gitattributes", "sub/.git/w.safetensors", "sub/.hg/x", "w.safetensors"}, names(m), "sorted; only the top's VCS directories are left out")
	assert.ElementsMatch(t, []string{".git", ".hg", ".svn"}, m.VCS)
}

// TestRefusedEntries: each entry a model cannot hold, with its kind.
func TestRefusedEntries(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, dir string)
		kind formats.Kind
	}{
		{"symbolic link inside", func(t *testing.T, dir string) {
			require.NoError(t, os.Symlink("w.safetensors", filepath.Join(dir, "alias")))
		}, formats.KindPathTraversal},
		{"symbolic link outside", func(t *testing.T, dir string) {
			require.NoError(t, os.Symlink("/etc/hostname", filepath.Join(dir, "alias")))
		}, formats.KindPathTraversal},
		{"FIFO", func(t *testing.T, dir string) {
			require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
		}, formats.KindUnsupported},
		{"name that is not UTF-8", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "w\xff.npy"), "x")
		}, formats.KindUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "w.safetensors"), "x")
			tc.make(t, dir)
			m, err := modeltree.List(dir, modeltree.Options{})
			require.NoError(t, err)
			assert.Equal(t, tc.kind, formats.KindOf(m.Err()), "%v", m.Err())
		})
	}
}

// cache lays out a Hugging Face cache repository with two revisions.
func cache(t *testing.T) (repo string) {
	repo = filepath.Join(t.TempDir(), "models--org--name")
	for rev, body := range map[string]string{"aaaa": "main weights", "bbbb": "v2 weights"} {
		write(t, filepath.Join(repo, "blobs", rev+"blob"), body)
		snap := filepath.Join(repo, "snapshots", rev)
		require.NoError(t, os.MkdirAll(filepath.Join(snap, "sub"), 0o755))
		require.NoError(t, os.Symlink("../../blobs/"+rev+"blob", filepath.Join(snap, "model.safetensors")))
		require.NoError(t, os.Symlink("../../../blobs/"+rev+"blob", filepath.Join(snap, "sub", "copy.safetensors")))
	}
	write(t, filepath.Join(repo, "refs", "main"), "aaaa\n")
	write(t, filepath.Join(repo, "refs", "pr", "1"), "bbbb")
	return repo
}

func TestHuggingFaceCache(t *testing.T) {
	repo := cache(t)
	for _, tc := range []struct{ path, rev, snap string }{
		{repo, "", "aaaa"},
		{repo, "main", "aaaa"},
		{repo, "pr/1", "bbbb"},
		{repo, "bbbb", "bbbb"},
		{filepath.Join(repo, "snapshots", "bbbb"), "", "bbbb"},
	} {
		m, err := modeltree.List(tc.path, modeltree.Options{Revision: tc.rev})
		require.NoError(t, err, "%s@%s", tc.path, tc.rev)
		require.NoError(t, m.Err())
		assert.Equal(t, filepath.Join(repo, "snapshots", tc.snap), m.Dir)
		assert.True(t, m.Cache)
		assert.Equal(t, []string{"model.safetensors", "sub/copy.safetensors"}, names(m))
		assert.Equal(t, tc.snap+"blob", m.Files[0].Blob)
	}
	for _, tc := range []struct {
		path, rev string
		kind      formats.Kind
	}{
		{repo, "nope", formats.KindUsage},
		{repo, "../../etc", formats.KindUsage},
		{t.TempDir(), "main", formats.KindUsage},
	} {
		_, err := modeltree.List(tc.path, modeltree.Options{Revision: tc.rev})
		assert.Equal(t, tc.kind, formats.KindOf(err), "%s@%s: %v", tc.path, tc.rev, err)
	}
	// hf://ORG/NAME[@REV] finds the repository in the hub cache.
	t.Setenv("HF_HUB_CACHE", filepath.Dir(repo))
	for name, snap := range map[string]string{"hf://org/name": "aaaa", "hf://org/name@pr/1": "bbbb", "hf://org/name@bbbb": "bbbb"} {
		m, err := modeltree.List(name, modeltree.Options{})
		require.NoError(t, err, name)
		assert.Equal(t, filepath.Join(repo, "snapshots", snap), m.Dir, name)
	}
	for _, name := range []string{"hf://org", "hf://org/../x", "hf://a--b/c", "hf://org/other"} {
		_, err := modeltree.List(name, modeltree.Options{})
		assert.Contains(t, []formats.Kind{formats.KindUsage, formats.KindIO}, formats.KindOf(err), "%s: %v", name, err)
	}
	_, err := modeltree.List("hf://org/name@main", modeltree.Options{Revision: "pr/1"})
	assert.Equal(t, formats.KindUsage, formats.KindOf(err), "a revision given twice")
	// A snapshot's link must resolve into blobs/.
	snap := filepath.Join(repo, "snapshots", "aaaa")
	require.NoError(t, os.Symlink("../../refs/main", filepath.Join(snap, "notes.txt")))
	m, err := modeltree.List(snap, modeltree.Options{})
	require.NoError(t, err)
	assert.Equal(t, formats.KindPathTraversal, formats.KindOf(m.Err()))
	assert.Contains(t, m.Err().Error(), "blobs/")
}

func TestOutsideTheRoot(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "w.safetensors"), "x")
	_, err := modeltree.List(dir, modeltree.Options{Root: t.TempDir()})
	assert.Equal(t, formats.KindPathTraversal, formats.KindOf(err))
}

// TestDeepTreeIsListedThroughHandles: 3,000 nested directories, a path
// longer than PATH_MAX, made and listed through handles (loader's
// TestCostBudget holds the time to the budget).
func TestDeepTreeIsListedThroughHandles(t *testing.T) {
	dir := t.TempDir()
	r, err := os.OpenRoot(dir)
	require.NoError(t, err)
	for range 3000 {
		require.NoError(t, r.Mkdir("d", 0o755))
		next, err := r.OpenRoot("d")
		require.NoError(t, err)
		r.Close()
		r = next
	}
	require.NoError(t, r.WriteFile("w.safetensors", []byte("x"), 0o644))
	r.Close()
	start := time.Now()
	m, err := modeltree.List(dir, modeltree.Options{})
	t.Logf("listed in %v", time.Since(start))
	require.NoError(t, err)
	require.NoError(t, m.Err())
	require.Len(t, m.Files, 1)
	assert.Equal(t, strings.Repeat("d/", 3000)+"w.safetensors", m.Files[0].Name)
}
