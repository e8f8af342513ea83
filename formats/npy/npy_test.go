package npy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/npy"
	"github.com/modelgate/modelgate/internal/testvectors"
)

// mkNpy builds an .npy file: magic, version major.0, header length, header
// (as given, newline included) and n data bytes.
func mkNpy(major byte, header string, n int) []byte {
	b := append([]byte(npy.Magic), major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	b = append(b, header...)
	return append(b, make([]byte, n)...)
}

func hdr(dict string) string { return dict + "          \n" }

type npyCase struct {
	name string
	file []byte
	kind formats.Kind
	msg  string
}

var npyRefusals = []npyCase{
	{"too short", []byte("\x93NUMPY\x01"), formats.KindMalformed, "too few"},
	{"empty", nil, formats.KindMalformed, "too few"},
	{"bad magic", append([]byte("\x93NUMPZ\x01\x00\x10\x00"), make([]byte, 16)...), formats.KindMalformed, "magic"},
	{"version 4.0", append([]byte("\x93NUMPY\x04\x00\x10\x00"), make([]byte, 16)...), formats.KindUnsupported, "version 4.0"},
	{"version 1.1", append([]byte("\x93NUMPY\x01\x01\x10\x00"), make([]byte, 16)...), formats.KindUnsupported, "version 1.1"},
	{"header past end", append([]byte("\x93NUMPY\x01\x00\xff\x00"), "{}"...), formats.KindMalformed, "runs past the end"},
	{"header over limit", mkNpy(2, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (), }"+strings.Repeat(" ", 10_000)), 4), formats.KindLimitExceeded, "MaxNpyHeaderBytes=10000"},
	{"NUL in header (CVE-2025-62608)", mkNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\x00\x00\n", 4), formats.KindMalformed, "NUL byte"},
	{"no newline", mkNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }   ", 4), formats.KindMalformed, "newline"},
	{"not a dict", mkNpy(1, hdr("['descr']"), 0), formats.KindMalformed, "not a dict"},
	{"text after dict", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x"), 4), formats.KindMalformed, "after the header dict"},
	{"call expression", mkNpy(1, hdr("{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,)}"), 4), formats.KindMalformed, "only Python literals"},
	{"extra key", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}"), 4), formats.KindMalformed, `unexpected key "x"`},
	{"missing key", mkNpy(1, hdr("{'descr': '<f4', 'shape': (1,)}"), 4), formats.KindMalformed, "lacks one of"},
	{"duplicate key", mkNpy(1, hdr("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}"), 4), formats.KindMalformed, `duplicate key "descr"`},
	{"fortran_order not bool", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}"), 4), formats.KindMalformed, "True or False"},
	{"shape a list", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': [1]}"), 4), formats.KindMalformed, "not a tuple"},
	{"shape parenthesised int", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1)}"), 4), formats.KindMalformed, "trailing comma"},
	{"negative dim", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"), 4), formats.KindMalformed, "only Python literals"},
	{"string dim", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': ('1',)}"), 4), formats.KindMalformed, "non-integer"},
	{"huge dim", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"), 4), formats.KindMalformed, "int64"},
	{"dim over int32", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 0)}"), 0), formats.KindLimitExceeded, "MaxDim"},
	{"shape overflow", mkNpy(1, hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (2147483647, 2147483647, 2147483647)}"), 0), formats.KindMalformed, "overflows"},
	{"L suffix in v3", mkNpy(3, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1L,)}"), 4), formats.KindMalformed, "Python 2 long"},
	{"data short", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"), 4), formats.KindMalformed, "needs 8"},
	{"trailing data", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}"), 5), formats.KindMalformed, "needs 4"},
	{"object dtype", mkNpy(1, hdr("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}"), 8), formats.KindPickle, "pickle"},
	{"object dtype O8", mkNpy(1, hdr("{'descr': '|O8', 'fortran_order': False, 'shape': (1,)}"), 8), formats.KindPickle, "pickle"},
	{"structured with object", mkNpy(1, hdr("{'descr': [('a', '<f4'), ('b', [('c', '|O')])], 'fortran_order': False, 'shape': (1,)}"), 12), formats.KindPickle, "object field"},
	{"structured", mkNpy(1, hdr("{'descr': [('a', '<f4'), ('b', '<i8', (2,))], 'fortran_order': False, 'shape': (1,)}"), 20), formats.KindUnsupported, "structured"},
	{"unicode", mkNpy(1, hdr("{'descr': '<U3', 'fortran_order': False, 'shape': (1,)}"), 12), formats.KindUnsupported, "unicode string"},
	{"bytes", mkNpy(1, hdr("{'descr': '|S3', 'fortran_order': False, 'shape': (1,)}"), 3), formats.KindUnsupported, "byte string"},
	{"void", mkNpy(1, hdr("{'descr': '|V3', 'fortran_order': False, 'shape': (1,)}"), 3), formats.KindUnsupported, "void"},
	{"datetime", mkNpy(1, hdr("{'descr': '<M8[D]', 'fortran_order': False, 'shape': (1,)}"), 8), formats.KindUnsupported, "datetime"},
	{"float128", mkNpy(1, hdr("{'descr': '<f16', 'fortran_order': False, 'shape': (1,)}"), 16), formats.KindUnsupported, "extended-precision"},
	{"native order", mkNpy(1, hdr("{'descr': '=f4', 'fortran_order': False, 'shape': (1,)}"), 4), formats.KindMalformed, "native byte order"},
	{"no order", mkNpy(1, hdr("{'descr': 'f4', 'fortran_order': False, 'shape': (1,)}"), 4), formats.KindMalformed, "byte order"},
	{"'|' on a 4-byte type", mkNpy(1, hdr("{'descr': '|f4', 'fortran_order': False, 'shape': (1,)}"), 4), formats.KindMalformed, "does not fit"},
	{"unknown type", mkNpy(1, hdr("{'descr': '<z4', 'fortran_order': False, 'shape': (1,)}"), 4), formats.KindMalformed, "unknown dtype"},
	{"non-ASCII in v1", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } \xe9"), 4), formats.KindMalformed, "non-ASCII"},
	{"deep nesting", mkNpy(1, hdr("{'descr': "+strings.Repeat("[", 20)+"}"), 0), formats.KindMalformed, "deeper than"},
	{"bad escape", mkNpy(1, hdr("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}"), 4), formats.KindMalformed, "escape"},
	{"leading zero", mkNpy(1, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (01,)}"), 4), formats.KindMalformed, "leading zero"},
}

func TestNpyRefusals(t *testing.T) {
	for _, tc := range npyRefusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := npy.NewReaderBytes(tc.file, formats.Limits{})
			require.Error(t, err)
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
			var fe *formats.Error
			require.ErrorAs(t, err, &fe)
			assert.GreaterOrEqual(t, fe.Offset, int64(0))
		})
	}
}

func TestNpyAcceptance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  []byte
		dtype formats.DType
		shape []int64
		order byte
		fort  bool
	}{
		{"double quotes, no spaces", mkNpy(1, "{\"descr\":\"<f4\",\"fortran_order\":True,\"shape\":(2,3)}\n", 24), formats.F32, []int64{2, 3}, '<', true},
		{"trailing commas", mkNpy(1, hdr("{'descr': '>i2', 'fortran_order': False, 'shape': (1, 2,), }"), 4), formats.I16, []int64{1, 2}, '>', false},
		{"python 2 longs", mkNpy(1, hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }"), 16), formats.F64, []int64{2}, '<', false},
		{"scalar", mkNpy(2, hdr("{'descr': '|b1', 'fortran_order': False, 'shape': (), }"), 1), formats.BOOL, []int64{}, '|', false},
		{"empty", mkNpy(3, hdr("{'descr': '<c8', 'fortran_order': False, 'shape': (0, 5), }"), 0), formats.C64, []int64{0, 5}, '<', false},
		{"one-byte type with '<'", mkNpy(1, hdr("{'descr': '<u1', 'fortran_order': False, 'shape': (3,)}"), 3), formats.U8, []int64{3}, '<', false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := npy.NewReaderBytes(tc.file, formats.Limits{})
			require.NoError(t, err)
			assert.Equal(t, tc.dtype, f.DType)
			assert.Equal(t, tc.shape, f.Shape)
			assert.Equal(t, tc.order, f.ByteOrder)
			assert.Equal(t, tc.fort, f.FortranOrder)
			assert.Equal(t, int64(len(tc.file))-f.Size, f.Offset)
			b, ok := f.Bytes()
			require.True(t, ok)
			s, err := io.ReadAll(f.Section())
			require.NoError(t, err)
			assert.Equal(t, b, s)
		})
	}
}

// digests reads testdata/digests.json: file -> array name -> sha256.
func digests(t testing.TB) map[string]map[string]string {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "digests.json"))
	require.NoError(t, err)
	var d map[string]map[string]string
	require.NoError(t, json.Unmarshal(raw, &d))
	return d
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readTestdata(t testing.TB, rel string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", rel))
	require.NoError(t, err)
	return b
}

// TestNpyFixtures checks every .npy numpy wrote: the data handed out is
// exactly numpy's bytes as stored.
func TestNpyFixtures(t *testing.T) {
	n := 0
	for file, arrays := range digests(t) {
		if !strings.HasPrefix(file, "npy/") {
			continue
		}
		n++
		f, err := npy.NewReaderBytes(readTestdata(t, file), formats.Limits{})
		require.NoError(t, err, file)
		b, _ := f.Bytes()
		assert.Equal(t, arrays[""], sum(b), file)
	}
	assert.GreaterOrEqual(t, n, 20)

	f, err := npy.NewReaderBytes(readTestdata(t, "npy/fortran.npy"), formats.Limits{})
	require.NoError(t, err)
	assert.True(t, f.FortranOrder)
	assert.Equal(t, "<f4", f.Descr)
	f, err = npy.NewReaderBytes(readTestdata(t, "npy/be-i8.npy"), formats.Limits{})
	require.NoError(t, err)
	assert.True(t, f.BigEndian())
	assert.Equal(t, formats.I64, f.DType)
	for file, v := range map[string]byte{"npy/v2.npy": 2, "npy/v3.npy": 3, "npy/le-f4.npy": 1} {
		f, err := npy.NewReaderBytes(readTestdata(t, file), formats.Limits{})
		require.NoError(t, err)
		assert.Equal(t, [2]byte{v, 0}, f.Version, file)
		assert.Zero(t, f.Offset%64, "numpy >= 1.14 aligns data to 64 bytes")
	}
}

// TestSharedNumpyVectors applies the verdicts of numpy's PROVENANCE.md.
func TestSharedNumpyVectors(t *testing.T) {
	dir := testvectors.Dir(t, "numpy")
	for name, kind := range map[string]formats.Kind{
		"py2-objarr.npy":     formats.KindPickle,
		"py2-np0-objarr.npy": formats.KindPickle,
		"py3-objarr.npy":     formats.KindPickle,
		"py2-objarr.npz":     formats.KindPickle,
		"py3-objarr.npz":     formats.KindPickle,
		"python3.npy":        "",
		"win64python2.npy":   "",
	} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			if strings.HasSuffix(name, ".npz") {
				_, err = npy.NewArchiveBytes(b, formats.Limits{})
			} else {
				var f *npy.File
				f, err = npy.NewReaderBytes(b, formats.Limits{})
				if err == nil {
					data, _ := f.Bytes()
					assert.Equal(t, []int64{2}, f.Shape)
					assert.Equal(t, bytes.Repeat([]byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, 2), data, "[1.0, 1.0]")
					assert.Equal(t, int64(80), f.Offset, "16-byte aligned header of old numpy")
				}
			}
			assert.Equal(t, kind, formats.KindOf(err), "%v", err)
		})
	}
}
