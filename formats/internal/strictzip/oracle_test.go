package strictzip_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/internal/strictzip"
	"github.com/modelgate/modelgate/formats/internal/ziptest"
	"github.com/modelgate/modelgate/internal/pyoracle"
)

type zipOracle struct {
	Path    string
	Zipfile struct {
		Members map[string]string
		Error   string
	}
	Torch struct {
		Members map[string]string
		Error   string
	}
}

// zipCorpus is every archive the differential looks at: the committed npz
// fixtures, the shared vectors' zips, and crafted archives of every kind
// the strict reader must get exactly right or refuse.
func zipCorpus(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, dir := range []string{"npz", "npz/hostile", "pickle"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "..", "testdata", dir, "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && bytes.HasPrefix(b, []byte("PK")) {
				out[dir+"/"+filepath.Base(f)] = b
			}
		}
	}
	for name, b := range sharedZips(t) {
		out["shared/"+name] = b
	}
	f4 := []byte("\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }" + string(bytes.Repeat([]byte(" "), 53)) + "\n\x00\x00\x80\x3f")
	hidden := ziptest.Archive{Entries: []ziptest.Entry{{Name: "archive/data.pkl", Data: []byte("\x80\x02}q\x00.")}}}.Build()
	crafted := map[string]ziptest.Archive{
		"plain":               {Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}, {Name: "b.npy", Data: f4, Deflate: true}}},
		"descriptor":          {Entries: []ziptest.Entry{{Name: "a.npy", Data: f4, Descriptor: true}}},
		"zip64":               {Zip64End: true, Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}}},
		"zip64 extensible":    {Zip64End: true, Zip64Extensible: []byte("PK\x05\x06xxxxxxxxxxxxxxxxxx"), Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}}},
		"non-ASCII unflagged": {Entries: []ziptest.Entry{{Name: "\x80\xe9.npy", Data: f4}}},
		"utf-8 name":          {Entries: []ziptest.Entry{{Name: "é.npy", Flags: 0x800, Data: f4}}},
		"decoded collision":   {Entries: []ziptest.Entry{{Name: "\x80.npy", Data: f4}, {Name: "Ç.npy", Flags: 0x800, Data: f4}}},
		"plain comment":       {Comment: []byte("made by modelgate's tests"), Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}}},
		"archive in comment":  {Comment: hidden, Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}}},
		"torch layout":        {Entries: []ziptest.Entry{{Name: "archive/data/0", Data: f4}, {Name: "archive/version", Data: []byte("3\n")}}},
	}
	for name, a := range crafted {
		out["crafted/"+name] = a.Build()
	}
	return out
}

// TestZipDifferential: for every archive NewReader accepts, Python's
// zipfile, torch's reader (where it opens the archive) and archive/zip
// list the same members with the same bytes as modelgate.
func TestZipDifferential(t *testing.T) {
	pyoracle.Require(t, "zipfile", "torch")
	dir := t.TempDir()
	corpus := zipCorpus(t)
	ours := map[string]map[string]string{}
	var paths []string
	for name, b := range corpus {
		z, err := strictzip.NewReader(bytes.NewReader(b), int64(len(b)), formats.Limits{MaxDecompressedBytes: 1 << 30, MaxCompressionRatio: 1 << 30})
		if err != nil {
			continue
		}
		members := map[string]string{}
		for _, e := range z.Entries {
			data, err := z.ReadAll(e)
			if err != nil {
				members = nil // a member we refuse to read: not an accepted archive
				break
			}
			members[e.Name] = sum(data)
		}
		if members == nil {
			continue
		}
		p := filepath.Join(dir, fmt.Sprintf("%03d.zip", len(paths)))
		require.NoError(t, os.WriteFile(p, b, 0o600))
		paths = append(paths, p)
		ours[p] = members
		assert.Equal(t, members, goZip(t, b), "archive/zip on %s", name)
	}
	require.GreaterOrEqual(t, len(paths), 10)
	torchOpened := 0
	for _, r := range pyoracle.Lines[zipOracle](t, "testdata/oracle.py", paths) {
		assert.Empty(t, r.Zipfile.Error, r.Path)
		assert.Equal(t, ours[r.Path], r.Zipfile.Members, "zipfile on %s", r.Path)
		if r.Torch.Error == "" {
			torchOpened++
			assert.Equal(t, ours[r.Path], r.Torch.Members, "torch on %s", r.Path)
		}
	}
	t.Logf("%d archives accepted and compared; torch's reader opened %d (it needs a top-level directory)", len(paths), torchOpened)
}

// TestAmbiguousArchivesRefused: what any reader could read another way
// is refused by the strict reader.
func TestAmbiguousArchivesRefused(t *testing.T) {
	corpus := zipCorpus(t)
	for _, name := range []string{"crafted/zip64 extensible", "crafted/decoded collision", "crafted/archive in comment", "crafted/non-ASCII unflagged"} {
		b := corpus[name]
		_, err := open(t, b)
		assert.Equal(t, formats.KindMalformed, formats.KindOf(err), "%s: %v", name, err)
	}
	// The lenient listing sees the archive hidden in the comment.
	b := corpus["crafted/archive in comment"]
	entries, err := strictzip.List(bytes.NewReader(b), int64(len(b)), formats.Limits{})
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	assert.Contains(t, names, "archive/data.pkl")
	assert.Contains(t, names, "a.npy")
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func goZip(t testing.TB, b []byte) map[string]string {
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range z.File {
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		out[f.Name] = sum(data)
	}
	return out
}
