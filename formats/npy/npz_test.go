package npy_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/internal/ziptest"
	"github.com/modelgate/modelgate/formats/npy"
	"github.com/modelgate/modelgate/internal/testvectors"
)

var f4 = mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"), 8)

func one(e ziptest.Entry) []byte { return ziptest.Archive{Entries: []ziptest.Entry{e}}.Build() }

type npzCase struct {
	name string
	file []byte
	lim  formats.Limits
	kind formats.Kind
	msg  string
}

var pickleBytes = []byte("\x80\x02}q\x00.")

var npzRefusals = []npzCase{
	// Zip structure.
	{"not a zip", []byte("hello"), formats.Limits{}, formats.KindMalformed, "too short"},
	{"no end record", append(one(ziptest.Entry{Name: "a.npy", Data: f4}), "xxxxxxxxxxxxxxxxxxxxxxxxxxxx"...), formats.Limits{}, formats.KindMalformed, "no end-of-central-directory"},
	{"prepended data", ziptest.Archive{Prefix: []byte("MZ-polyglot"), Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}}}.Build(), formats.Limits{}, formats.KindMalformed, "11 bytes of unaccounted data before entry"},
	{"gap between entries", ziptest.Archive{Gap: []byte("hidden"), Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}, {Name: "b.npy", Data: f4}}}.Build(), formats.Limits{}, formats.KindMalformed, "unaccounted data"},
	{"trailing data", ziptest.Archive{Trailer: []byte("x"), Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}}}.Build(), formats.Limits{}, formats.KindMalformed, "no end-of-central-directory"},
	{"multi-disk", ziptest.Archive{Disk: 1, Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}}}.Build(), formats.Limits{}, formats.KindUnsupported, "multi-disk"},
	{"junk in central directory", ziptest.Archive{ExtraCD: []byte("junk"), Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}}}.Build(), formats.Limits{}, formats.KindMalformed, "after the last central directory entry"},
	{"local name differs (CVE-2025-1944)", one(ziptest.Entry{Name: "a.npy", LocalName: "b.pkl", Data: f4}), formats.Limits{}, formats.KindMalformed, "local header names"},
	{"local flags differ (CVE-2025-1945)", one(ziptest.Entry{Name: "a.npy", LocalFlags: 0x0800, Data: f4}), formats.Limits{}, formats.KindMalformed, "local flags"},
	{"local method differs", one(ziptest.Entry{Name: "a.npy", LocalMethod: 8, Data: f4}), formats.Limits{}, formats.KindMalformed, "local method"},
	{"local CRC differs", one(ziptest.Entry{Name: "a.npy", LocalCRC: 1, Data: f4}), formats.Limits{}, formats.KindMalformed, "local CRC-32"},
	{"bad CRC (CVE-2025-10156)", one(ziptest.Entry{Name: "a.npy", CRCDelta: 1, Data: f4}), formats.Limits{}, formats.KindMalformed, "CRC-32 is"},
	{"bad CRC deflated", one(ziptest.Entry{Name: "a.npy", CRCDelta: 1, Deflate: true, Data: f4}), formats.Limits{}, formats.KindMalformed, "CRC-32 is"},
	{"declared size too small", one(ziptest.Entry{Name: "a.npy", USizeDelta: -1, Deflate: true, Data: f4}), formats.Limits{}, formats.KindMalformed, "more than its declared"},
	{"declared size too large", one(ziptest.Entry{Name: "a.npy", USizeDelta: 1, Deflate: true, Data: f4}), formats.Limits{}, formats.KindMalformed, "ends 1 bytes before"},
	{"stored sizes differ", one(ziptest.Entry{Name: "a.npy", USizeDelta: 1, Data: f4}), formats.Limits{}, formats.KindMalformed, "compressed size"},
	{"encrypted", one(ziptest.Entry{Name: "a.npy", Flags: 1, Data: f4}), formats.Limits{}, formats.KindUnsupported, "encrypted"},
	{"data descriptor flag without a descriptor", one(ziptest.Entry{Name: "a.npy", Flags: 0x8, Data: f4}), formats.Limits{}, formats.KindMalformed, "data descriptor differs"},
	{"lying data descriptor", one(ziptest.Entry{Name: "a.npy", Descriptor: true, DescriptorCRC: 1, Data: f4}), formats.Limits{}, formats.KindMalformed, "data descriptor differs"},
	{"lying descriptor and CRC", one(ziptest.Entry{Name: "a.npy", Descriptor: true, CRCDelta: 1, Data: f4}), formats.Limits{}, formats.KindMalformed, "CRC-32 is"},
	{"patched data", one(ziptest.Entry{Name: "a.npy", Flags: 0x20, Data: f4}), formats.Limits{}, formats.KindUnsupported, "flags 0x0020"},
	{"bzip2 method", one(ziptest.Entry{Name: "a.npy", Method: 12, Data: f4}), formats.Limits{}, formats.KindUnsupported, "method 12"},
	{"overlapping entries (zip bomb)", ziptest.Archive{Entries: []ziptest.Entry{{Name: "a.npy", Data: f4, CSizeDelta: 40, USizeDelta: 40}, {Name: "b.npy", Data: f4}}}.Build(), formats.Limits{}, formats.KindMalformed, "overlaps the entry before it"},
	{"central entry points at another's header", ziptest.Archive{Entries: []ziptest.Entry{{Name: "b.npy", Data: f4}, {Name: "a.npy", Data: f4, HeaderOffset: 1}}}.Build(), formats.Limits{}, formats.KindMalformed, "no local header"},
	{"duplicate names", ziptest.Archive{Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}, {Name: "a.npy", Data: f4}}}.Build(), formats.Limits{}, formats.KindMalformed, "duplicate entry name"},
	{"too many members", ziptest.Archive{Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}, {Name: "b.npy", Data: f4}}}.Build(), formats.Limits{MaxTensors: 1}, formats.KindLimitExceeded, "MaxTensors=1"},
	// Names.
	{"dot-dot", one(ziptest.Entry{Name: "../evil.npy", Data: f4}), formats.Limits{}, formats.KindPathTraversal, "'..'"},
	{"inner dot-dot", one(ziptest.Entry{Name: "a/../../evil.npy", Data: f4}), formats.Limits{}, formats.KindPathTraversal, "'..'"},
	{"absolute", one(ziptest.Entry{Name: "/etc/evil.npy", Data: f4}), formats.Limits{}, formats.KindPathTraversal, "absolute"},
	{"backslash", one(ziptest.Entry{Name: `..\evil.npy`, Data: f4}), formats.Limits{}, formats.KindPathTraversal, "backslash"},
	{"drive letter", one(ziptest.Entry{Name: "C:evil.npy", Data: f4}), formats.Limits{}, formats.KindPathTraversal, "drive letter"},
	{"NUL", one(ziptest.Entry{Name: "a\x00.npy", Data: f4}), formats.Limits{}, formats.KindMalformed, "NUL"},
	{"empty name", one(ziptest.Entry{Name: "", Data: f4}), formats.Limits{}, formats.KindMalformed, "empty"},
	{"flagged UTF-8 but not", one(ziptest.Entry{Name: "\xff.npy", Flags: 0x800, Data: f4}), formats.Limits{}, formats.KindMalformed, "flagged UTF-8"},
	{"non-ASCII name without the UTF-8 flag (readers decode it differently)", ziptest.Archive{Entries: []ziptest.Entry{{Name: "\x80.npy", Data: f4}, {Name: "Ç.npy", Flags: 0x800, Data: f4}}}.Build(), formats.Limits{}, formats.KindMalformed, "without the UTF-8 flag"},
	{"unclean", one(ziptest.Entry{Name: "a//b.npy", Data: f4}), formats.Limits{}, formats.KindMalformed, "clean"},
	{"symlink", one(ziptest.Entry{Name: "a.npy", Data: []byte("/etc/passwd"), Mode: 0o120777}), formats.Limits{}, formats.KindPathTraversal, "symbolic link"},
	{"collision once .npy is stripped", ziptest.Archive{Entries: []ziptest.Entry{{Name: "x.npy", Data: f4}, {Name: "x", Data: f4}}}.Build(), formats.Limits{}, formats.KindMalformed, "collides"},
	{"non-npy member", one(ziptest.Entry{Name: "README.txt", Data: []byte("hi")}), formats.Limits{}, formats.KindUnsupported, "not an .npy array"},
	{"directory", one(ziptest.Entry{Name: "dir/", Data: nil}), formats.Limits{}, formats.KindUnsupported, "not an .npy array"},
	{"data.pkl", one(ziptest.Entry{Name: "archive/data.pkl", Data: pickleBytes}), formats.Limits{}, formats.KindPickle, "pickle"},
	{"pickle named .npy", one(ziptest.Entry{Name: "w.npy", Data: pickleBytes}), formats.Limits{}, formats.KindPickle, "is a pickle"},
	{"pickle named .npy, deflated", one(ziptest.Entry{Name: "w.npy", Data: pickleBytes, Deflate: true}), formats.Limits{}, formats.KindPickle, "is a pickle"},
	{"pickle without extension", one(ziptest.Entry{Name: "weights", Data: pickleBytes}), formats.Limits{}, formats.KindPickle, "is a pickle"},
	{"object member", one(ziptest.Entry{Name: "o.npy", Data: mkNpy(1, hdr("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}"), 8)}), formats.Limits{}, formats.KindPickle, "object dtype"},
	// Limits on inflation.
	{"inflates past the limit", one(ziptest.Entry{Name: "a.npy", Deflate: true, Data: mkNpy(1, hdr("{'descr': '|u1', 'fortran_order': False, 'shape': (4096,)}"), 4096)}), formats.Limits{MaxDecompressedBytes: 4000}, formats.KindLimitExceeded, "MaxDecompressedBytes=4000"},
	{"compression ratio", one(ziptest.Entry{Name: "a.npy", Deflate: true, Data: mkNpy(1, hdr("{'descr': '|u1', 'fortran_order': False, 'shape': (100000,)}"), 100000)}), formats.Limits{}, formats.KindLimitExceeded, "MaxCompressionRatio=200"},
	{"members inflate past the limit in all", ziptest.Archive{Entries: []ziptest.Entry{
		{Name: "a.npy", Deflate: true, Data: mkNpy(1, hdr("{'descr': '|u1', 'fortran_order': False, 'shape': (3000,)}"), 3000)},
		{Name: "b.npy", Deflate: true, Data: mkNpy(1, hdr("{'descr': '|u1', 'fortran_order': False, 'shape': (3000,)}"), 3000)},
	}}.Build(), formats.Limits{MaxDecompressedBytes: 5000, MaxCompressionRatio: 1000}, formats.KindLimitExceeded, "in all"},
	{"total bytes", ziptest.Archive{Entries: []ziptest.Entry{{Name: "a.npy", Data: f4}, {Name: "b.npy", Data: f4}}}.Build(), formats.Limits{MaxTotalBytes: 12}, formats.KindLimitExceeded, "MaxTotalBytes=12"},
	{"bad member header", one(ziptest.Entry{Name: "a.npy", Data: mkNpy(1, hdr("{'descr': '<f4'}"), 0)}), formats.Limits{}, formats.KindMalformed, "lacks one of"},
}

func TestNpzRefusals(t *testing.T) {
	for _, tc := range npzRefusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := npy.NewArchiveBytes(tc.file, tc.lim)
			require.Error(t, err)
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestNpzAcceptance(t *testing.T) {
	f2 := mkNpy(1, hdr("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }"), 6)
	file := ziptest.Archive{Entries: []ziptest.Entry{
		{Name: "w.npy", Data: f4},
		{Name: "sub/b.npy", Data: f2, Deflate: true, Flags: 0x800, Descriptor: true},
	}}.Build()
	a, err := npy.NewArchiveBytes(file, formats.Limits{})
	require.NoError(t, err)
	require.Len(t, a.Members(), 2)
	w, ok := a.Member("w")
	require.True(t, ok)
	assert.True(t, w.Stored)
	assert.Equal(t, "w.npy", w.Entry)
	wb, ok := a.Bytes("w")
	require.True(t, ok)
	assert.Equal(t, f4[len(f4)-8:], wb)
	b, ok := a.Member("sub/b")
	require.True(t, ok)
	assert.False(t, b.Stored)
	assert.Equal(t, formats.I16, b.DType)
	sr, ok := a.Section("sub/b")
	require.True(t, ok)
	got, err := io.ReadAll(sr)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, 6), got)
	_, ok = a.Member("nope")
	assert.False(t, ok)
}

// TestNpzFixtures checks the archives numpy wrote: savez (stored, ZIP64
// extras in local headers only), savez_compressed, positional names.
func TestNpzFixtures(t *testing.T) {
	n := 0
	for file, arrays := range digests(t) {
		if !strings.HasPrefix(file, "npz/") {
			continue
		}
		n++
		a, err := npy.NewArchiveBytes(readTestdata(t, file), formats.Limits{})
		require.NoError(t, err, file)
		require.Len(t, a.Members(), len(arrays), file)
		for name, want := range arrays {
			sr, ok := a.Section(name)
			require.True(t, ok, "%s: %s", file, name)
			b, err := io.ReadAll(sr)
			require.NoError(t, err)
			assert.Equal(t, want, sum(b), "%s: %s", file, name)
			zb, ok := a.Bytes(name)
			require.True(t, ok)
			assert.Equal(t, b, zb)
		}
	}
	assert.GreaterOrEqual(t, n, 4)
}

func TestNpzHostileFixtures(t *testing.T) {
	for file, kind := range map[string]formats.Kind{
		"npz/hostile/object-member.npz":  formats.KindPickle,
		"npz/hostile/pickle-member.npz":  formats.KindPickle,
		"npz/hostile/renamed-pickle.npz": formats.KindPickle,
		"npz/hostile/zeros-bomb.npz":     formats.KindLimitExceeded, // 200 MB of zeros in 195 KB
	} {
		_, err := npy.NewArchiveBytes(readTestdata(t, file), formats.Limits{})
		assert.Equal(t, kind, formats.KindOf(err), "%s: %v", file, err)
	}
	// A caller who raises the limits can read the 200 MB member.
	a, err := npy.NewArchiveBytes(readTestdata(t, "npz/hostile/zeros-bomb.npz"), formats.Limits{MaxDecompressedBytes: 256 << 20, MaxCompressionRatio: 2000})
	require.NoError(t, err)
	m, _ := a.Member("zeros")
	assert.Equal(t, int64(200_000_000), m.Size)
}

// positiveControls are the pickle corpus's files that carry no pickle and
// must be accepted (its PROVENANCE.md).
var positiveControls = map[string]bool{
	"int_array.npy": true, "int_arrays.npz": true, "int_arrays_compressed.npz": true,
}

// TestSharedPickleNpyVectors refuses the npy and npz files among the
// picklescan and modelscan vectors, except the positive controls.
func TestSharedPickleNpyVectors(t *testing.T) {
	dir := testvectors.Dir(t, "pickle")
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := filepath.Ext(p)
		if ext != ".npy" && ext != ".npz" {
			return nil
		}
		n++
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		if ext == ".npz" {
			_, err = npy.NewArchiveBytes(b, formats.Limits{})
		} else {
			_, err = npy.NewReaderBytes(b, formats.Limits{})
		}
		want := formats.KindPickle
		if positiveControls[filepath.Base(p)] {
			want = ""
		}
		assert.Equal(t, want, formats.KindOf(err), "%s: %v", p, err)
		return nil
	})
	require.NoError(t, err)
	t.Logf("%d npy/npz vectors refused", n)
}
