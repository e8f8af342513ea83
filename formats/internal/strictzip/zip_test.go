package strictzip_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/internal/strictzip"
	"github.com/modelgate/modelgate/formats/internal/ziptest"
	"github.com/modelgate/modelgate/internal/testvectors"
)

func open(t testing.TB, b []byte) (*strictzip.Reader, error) {
	return strictzip.NewReader(bytes.NewReader(b), int64(len(b)), formats.Limits{})
}

func TestZip64EndRecords(t *testing.T) {
	b := ziptest.Archive{Zip64End: true, Entries: []ziptest.Entry{{Name: "a", Data: []byte("hello")}, {Name: "b", Data: []byte("world"), Deflate: true}}}.Build()
	z, err := open(t, b)
	require.NoError(t, err)
	require.Len(t, z.Entries, 2)
	for i, want := range []string{"hello", "world"} {
		got, err := z.ReadAll(z.Entries[i])
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
	// Break the ZIP64 end record's size field: it no longer ends at the locator.
	bad := bytes.Clone(b)
	rec := bytes.Index(bad, []byte{0x50, 0x4b, 0x06, 0x06})
	binary.LittleEndian.PutUint64(bad[rec+4:], 40)
	_, err = open(t, bad)
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err))
	assert.Contains(t, err.Error(), "only the fixed 44")
	// Remove the locator's signature.
	bad = bytes.Clone(b)
	loc := bytes.Index(bad, []byte{0x50, 0x4b, 0x06, 0x07})
	bad[loc] = 'X'
	_, err = open(t, bad)
	assert.Contains(t, err.Error(), "without a ZIP64 locator")
}

func TestEmptyArchive(t *testing.T) {
	z, err := open(t, ziptest.Archive{}.Build())
	require.NoError(t, err)
	assert.Empty(t, z.Entries)
}

func TestOpenStreamsAndChecks(t *testing.T) {
	data := bytes.Repeat([]byte("modelgate "), 1000)
	z, err := open(t, ziptest.Archive{Entries: []ziptest.Entry{{Name: "x", Data: data, Deflate: true}}}.Build())
	require.NoError(t, err)
	r, err := z.Open(z.Entries[0])
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	require.NoError(t, z.Verify(z.Entries[0]))
	assert.False(t, z.Entries[0].Symlink())
	assert.False(t, z.Entries[0].Dir())
}

func TestCorruptDeflate(t *testing.T) {
	b := ziptest.Archive{Entries: []ziptest.Entry{{Name: "x", Data: bytes.Repeat([]byte{1, 2, 3}, 100), Deflate: true}}}.Build()
	b[30+1+2] ^= 0xff // inside the deflate stream
	z, err := open(t, b)
	require.NoError(t, err)
	err = z.Verify(z.Entries[0])
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err), "%v", err)
}

// sharedZips yields the zip archives among the shared pickle vectors.
func sharedZips(tb testing.TB) map[string][]byte {
	root, _ := testvectors.Root()
	dir := filepath.Join(root, "pickle")
	out := map[string][]byte{}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.HasPrefix(b, []byte("PK")) {
			out[filepath.Base(p)] = b
		}
		return nil
	})
	return out
}

// TestSharedZipVectors: each picklescan zip trick is refused by the zip
// layer itself, before any member is looked at; PyTorch's own zips (data
// descriptors, ZIP64 end records) are well-formed zips: their pickles are
// refused by classification, not here.
func TestSharedZipVectors(t *testing.T) {
	testvectors.Dir(t, "pickle")
	zips := sharedZips(t)
	for name, kind := range map[string]formats.Kind{
		"malicious1_0x1.zip":               formats.KindUnsupported, // encrypted flag, data in clear
		"malicious1_0x20.zip":              formats.KindUnsupported, // patched data flag
		"malicious1_0x40.zip":              formats.KindUnsupported, // strong encryption flag
		"password_protected.zip":           formats.KindUnsupported,
		"benign_password_protected.zip":    formats.KindUnsupported,
		"malicious1_central_directory.zip": formats.KindMalformed, // CVE-2025-1944 name mismatch
		"new_pytorch_model.bin":            "",
		"unsafe_zip_pytorch.pt":            "",
	} {
		b, ok := zips[name]
		require.True(t, ok, name)
		z, err := open(t, b)
		assert.Equal(t, kind, formats.KindOf(err), "%s: %v", name, err)
		if err == nil {
			for _, e := range z.Entries {
				assert.NoError(t, z.Verify(e), "%s: %s", name, e.Name)
			}
		}
	}
	// CVE-2025-10156: the CRC of data.pkl is wrong; reading it says so.
	z, err := open(t, zips["malicious1_crc.zip"])
	require.NoError(t, err)
	err = z.Verify(z.Entries[0])
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err))
	assert.Contains(t, err.Error(), "CRC-32")
}

// FuzzZip parses any input as a zip and reads every entry: no panic, no
// read past the limits, and every refusal of a known kind.
func FuzzZip(f *testing.F) {
	seeds := [][]byte{
		ziptest.Archive{}.Build(),
		ziptest.Archive{Zip64End: true, Entries: []ziptest.Entry{{Name: "a", Data: []byte("x")}}}.Build(),
		ziptest.Archive{Entries: []ziptest.Entry{{Name: "a.npy", Data: []byte("hello"), Deflate: true}, {Name: "b", Data: []byte("world")}}}.Build(),
	}
	for _, b := range sharedZips(f) {
		seeds = append(seeds, b)
	}
	for _, p := range []string{"savez.npz", "savez_compressed.npz", "positional.npz"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "npz", p)); err == nil {
			seeds = append(seeds, b)
		}
	}
	if len(seeds) < 6 {
		f.Fatal("seed corpus is missing the testdata archives")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	lim := formats.Limits{MaxDecompressedBytes: 1 << 20, MaxTensors: 64}
	f.Fuzz(func(t *testing.T, b []byte) {
		z, err := strictzip.NewReader(bytes.NewReader(b), int64(len(b)), lim)
		if err != nil {
			requireKnown(t, err)
			return
		}
		// What the strict reader accepts, the classifier's listing sees:
		// every entry, at the same offset, under the same name.
		listed, err := strictzip.List(bytes.NewReader(b), int64(len(b)), lim)
		require.NoError(t, err)
		seen := map[[2]any]bool{}
		for _, e := range listed {
			seen[[2]any{e.HeaderOffset, e.Name}] = true
		}
		for _, e := range z.Entries {
			require.True(t, seen[[2]any{e.HeaderOffset, e.Name}], "entry %q at %d accepted but not listed", e.Name, e.HeaderOffset)
		}
		for _, e := range z.Entries {
			require.LessOrEqual(t, e.DataOffset+e.CompressedSize, int64(len(b)))
			if err := z.Verify(e); err != nil {
				requireKnown(t, err)
			}
		}
	})
}

func requireKnown(t *testing.T, err error) {
	k := formats.KindOf(err)
	require.Contains(t, []formats.Kind{formats.KindMalformed, formats.KindUnsupported, formats.KindLimitExceeded}, k, "%v", err)
}

// TestExtractVersionAsZipfileReadsIt: Python's zipfile refuses an entry
// whose "version needed to extract" is above 6.3, reading only the low
// byte of the field; numpy.load refuses such an npz (found by
// internal/consumers' differential fuzzing, testdata/npz/hostile/zip-version-8.4.npz).
func TestExtractVersionAsZipfileReadsIt(t *testing.T) {
	withVersion := func(v uint16) []byte {
		b := ziptest.Archive{Entries: []ziptest.Entry{{Name: "a.npy", Data: []byte("x")}}}.Build()
		at := bytes.Index(b, []byte("PK\x01\x02")) + 6
		b[at], b[at+1] = byte(v), byte(v>>8)
		return b
	}
	for _, v := range []uint16{20, 45, 63, 0xff00 | 20} {
		_, err := open(t, withVersion(v))
		assert.NoError(t, err, "version 0x%04x", v)
	}
	for _, v := range []uint16{64, 84, 0xff} {
		_, err := open(t, withVersion(v))
		assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "version 0x%04x: %v", v, err)
		assert.ErrorContains(t, err, "up to 6.3")
	}
}
