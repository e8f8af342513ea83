package pickle_test

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/internal/ziptest"
	"github.com/modelgate/modelgate/formats/npy"
	"github.com/modelgate/modelgate/formats/pickle"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/internal/testvectors"
)

func classify(t testing.TB, b []byte) pickle.Verdict {
	v, err := pickle.Classify(bytes.NewReader(b), int64(len(b)), formats.Limits{})
	require.NoError(t, err)
	return v
}

func testdata(t testing.TB, rel string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", rel))
	require.NoError(t, err)
	return b
}

// TestGeneratedPickles: every pickle-bearing file that Debian's torch,
// numpy, joblib and python made is refused as a pickle, named as what it is.
func TestGeneratedPickles(t *testing.T) {
	for file, format := range map[string]formats.Format{
		"pickle/torch-zip.pt":        formats.FormatPyTorchZip,
		"pickle/torch-legacy.pt":     formats.FormatPyTorchLegacy,
		"pickle/torch-legacy-tar.pt": formats.FormatPyTorchLegacy,
		"pickle/proto0.pkl":          formats.FormatPickle,
		"pickle/proto1.pkl":          formats.FormatPickle,
		"pickle/proto2.pkl":          formats.FormatPickle,
		"pickle/proto3.pkl":          formats.FormatPickle,
		"pickle/proto4.pkl":          formats.FormatPickle,
		"pickle/proto5.pkl":          formats.FormatPickle,
		"pickle/numpy-array.pkl":     formats.FormatPickle,
		"pickle/gzip.pkl.gz":         formats.FormatPickle,
		"pickle/bz2.pkl.bz2":         formats.FormatPickle,
		"pickle/xz.pkl.xz":           formats.FormatPickle,
		"pickle/zlib.pkl.z":          formats.FormatPickle,
		"pickle/lz4.pkl.lz4":         formats.FormatPickle,
		"pickle/model.joblib":        formats.FormatJoblib,
		"pickle/model-zlib.joblib":   formats.FormatJoblib,
		"pickle/model-gzip.joblib":   formats.FormatJoblib,
		"npy/hostile/object.npy":     formats.FormatNpy, // the npy reader refuses it
	} {
		t.Run(file, func(t *testing.T) {
			v := classify(t, testdata(t, file))
			assert.Equal(t, format, v.Format)
			if v.Format == formats.FormatNpy {
				return
			}
			assert.True(t, v.Pickle)
			err := v.Refusal()
			require.NotNil(t, err)
			assert.Equal(t, formats.KindPickle, err.Kind)
			assert.Contains(t, err.Error(), "runs code when loaded")
		})
	}
	v := classify(t, testdata(t, "pickle/numpy-array.pkl"))
	assert.Contains(t, v.Imports, "numpy.core.multiarray._reconstruct")
	v = classify(t, testdata(t, "pickle/torch-zip.pt"))
	assert.Contains(t, v.Imports, "torch._utils._rebuild_tensor_v2")
	assert.Contains(t, v.Detail, "data.pkl")
}

func TestAcceptedAndOtherFormats(t *testing.T) {
	for file, format := range map[string]formats.Format{
		"safetensors/tiny-mlp.safetensors": formats.FormatSafetensors,
		"npy/le-f4.npy":                    formats.FormatNpy,
		"npz/savez.npz":                    formats.FormatNpz,
		"npz/savez_compressed.npz":         formats.FormatNpz,
		"npz/empty-archive.npz":            formats.FormatNpz,
	} {
		v := classify(t, testdata(t, file))
		assert.Equal(t, format, v.Format, file)
		assert.True(t, v.Accepted(), file)
		assert.Nil(t, v.Refusal())
	}
	// The npz with a pickle member is a zip carrying a pickle.
	v := classify(t, testdata(t, "npz/hostile/pickle-member.npz"))
	assert.True(t, v.Pickle)
	v = classify(t, testdata(t, "npz/hostile/renamed-pickle.npz"))
	assert.True(t, v.Pickle)
	assert.Contains(t, v.Detail, `member "w.npy" is a pickle`)

	for name, tc := range map[string]struct {
		b    []byte
		f    formats.Format
		kind formats.Kind
	}{
		"hdf5":        {[]byte("\x89HDF\r\n\x1a\n\x00\x00"), formats.FormatHDF5, formats.KindUnsupported},
		"onnx":        {[]byte("\x08\x07\x12\x07pytorch\x1a\x032.0"), formats.FormatONNX, formats.KindUnsupported},
		"7z":          {[]byte("7z\xbc\xaf\x27\x1c\x00\x04"), formats.Format7z, formats.KindUnsupported},
		"text":        {[]byte("# README\nThis model...\n"), formats.FormatUnknown, formats.KindUnknownFormat},
		"empty":       {nil, formats.FormatUnknown, formats.KindUnknownFormat},
		"json":        {[]byte(`{"architectures": ["Llama"]}`), formats.FormatUnknown, formats.KindUnknownFormat},
		"png":         {[]byte("\x89PNG\r\n\x1a\n"), formats.FormatUnknown, formats.KindUnknownFormat},
		"gzip text":   {gz(t, []byte("hello world")), formats.FormatGzip, formats.KindUnsupported},
		"broken gzip": {[]byte("\x1f\x8b\x08\x00garbage"), formats.FormatGzip, formats.KindUnsupported},
		"keras zip": {ziptest.Archive{Entries: []ziptest.Entry{{Name: "config.json", Data: []byte("{}")},
			{Name: "model.weights.h5", Data: []byte("\x89HDF\r\n\x1a\n")}}}.Build(), formats.FormatKeras, formats.KindCode},
		"keras zip, npz weights": {ziptest.Archive{Entries: []ziptest.Entry{{Name: "metadata.json", Data: []byte("{}")}, {Name: "config.json", Data: []byte("{}")},
			{Name: "model.weights.npz", Data: []byte("PK\x05\x06" + strings.Repeat("\x00", 18))}}}.Build(), formats.FormatKeras, formats.KindCode},
		"keras zip, metadata only":                       {ziptest.Archive{Entries: []ziptest.Entry{{Name: "metadata.json", Data: []byte("{}")}}}.Build(), formats.FormatKeras, formats.KindCode},
		"config.json below the root is no Keras archive": {ziptest.Archive{Entries: []ziptest.Entry{{Name: "m/config.json", Data: []byte("{}")}}}.Build(), formats.FormatZip, formats.KindUnsupported},
		"plain zip": {ziptest.Archive{Entries: []ziptest.Entry{{Name: "a.txt", Data: []byte("x")}}}.Build(), formats.FormatZip, formats.KindUnsupported},
	} {
		t.Run(name, func(t *testing.T) {
			v := classify(t, tc.b)
			assert.Equal(t, tc.f, v.Format)
			assert.False(t, v.Pickle)
			require.NotNil(t, v.Refusal())
			assert.Equal(t, tc.kind, v.Refusal().Kind)
		})
	}
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	_, err := gw.Write(b)
	require.NoError(t, err)
	require.NoError(t, gw.Close())
	return buf.Bytes()
}

// TestCVEs reproduces each scanner bypass and shows the file refused as
// a pickle.
func TestCVEs(t *testing.T) {
	pkl := testdata(t, "pickle/proto4.pkl")
	for _, tc := range []struct {
		cve, trick string
		file       []byte
	}{
		{"CVE-2025-1716", "a gadget missing from a blocklist: modelgate has no blocklist", []byte("\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x03pip\x94\x8c\x04main\x94\x93\x94]\x94\x85\x94R\x94.")},
		{"CVE-2025-1889", "a pickle as a zip member with another extension", ziptest.Archive{Entries: []ziptest.Entry{{Name: "data.txt", Data: pkl}}}.Build()},
		{"CVE-2025-10155", "a raw pickle named .bin (names are never read)", pkl},
		{"CVE-2025-1944", "local name data.pkl, central name weights.npy", ziptest.Archive{Entries: []ziptest.Entry{{Name: "weights.npy", LocalName: "data.pkl", Data: pkl}}}.Build()},
		{"CVE-2025-1945", "encrypted flag set on a member in clear", ziptest.Archive{Entries: []ziptest.Entry{{Name: "model/config.pkl", Flags: 1, Data: pkl}}}.Build()},
		{"CVE-2025-1945", "patched-data flag", ziptest.Archive{Entries: []ziptest.Entry{{Name: "m/data.pkl", Flags: 0x20, Data: pkl}}}.Build()},
		{"CVE-2025-10156", "a bad CRC on the pickle member", ziptest.Archive{Entries: []ziptest.Entry{{Name: "archive/data.pkl", CRCDelta: 7, Data: pkl, Deflate: true}}}.Build()},
		{"CVE-2025-10156", "a bad CRC on a member named .npy", ziptest.Archive{Entries: []ziptest.Entry{{Name: "w.npy", CRCDelta: 7, Data: pkl}}}.Build()},
		{"CVE-2025-46417", "an object array in an npz", testdata(t, "npz/hostile/object-member.npz")},
	} {
		t.Run(tc.cve+" "+tc.trick, func(t *testing.T) {
			v := classify(t, tc.file)
			assert.Equal(t, formats.KindPickle, verdictKind(t, v, tc.file), "%+v", v)
		})
	}
}

// nonPickleVectors are the files of the shared pickle corpus that carry no
// pickle: the positive controls (accepted) and the files its PROVENANCE.md
// says are refused as something else.
var nonPickleVectors = map[string]formats.Kind{
	"int_array.npy":                 "",
	"int_arrays.npz":                "",
	"int_arrays_compressed.npz":     "",
	"bad_pytorch.pt":                formats.KindUnknownFormat, // a PNG signature
	"not_a_pickle.bin":              formats.KindUnknownFormat, // GLOBAL with invalid UTF-8
	"malicious1.7z":                 formats.KindUnsupported,   // a 7z cannot be looked into
	"password_protected.zip":        formats.KindUnsupported,   // encrypted text member
	"benign_password_protected.zip": formats.KindUnsupported,
}

// TestSharedPickleCorpus refuses every file of picklescan's and
// modelscan's corpus as a pickle, except the files named above.
func TestSharedPickleCorpus(t *testing.T) {
	dir := testvectors.Dir(t, "pickle")
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".md") {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		v := classify(t, b)
		want, special := nonPickleVectors[filepath.Base(p)]
		if !special {
			want = formats.KindPickle
		}
		assert.Equal(t, want, verdictKind(t, v, b), "%s: %+v", p, v)
		return nil
	}))
	assert.Greater(t, n, 100)
}

// verdictKind is what a loader decides: the classifier's refusal, or for
// an accepted format the strict parser's.
func verdictKind(t testing.TB, v pickle.Verdict, b []byte) formats.Kind {
	if e := v.Refusal(); e != nil {
		return e.Kind
	}
	var err error
	switch v.Format {
	case formats.FormatNpy:
		_, err = npy.NewReaderBytes(b, formats.Limits{})
	case formats.FormatNpz:
		_, err = npy.NewArchiveBytes(b, formats.Limits{})
	case formats.FormatSafetensors:
		_, err = safetensors.NewReaderBytes(b, formats.Limits{})
	}
	return formats.KindOf(err)
}

// TestPicklesBeyondTheOldWalk: pickles the first walker let pass as text
// are pickles (issue 12, case 4), and an archive hidden in an npz's
// comment is looked inside (case 1).
func TestPicklesBeyondTheOldWalk(t *testing.T) {
	long := "S'" + strings.Repeat("x", 5000) + "'\n0cos\nsystem\n(S'id'\ntR."
	for name, b := range map[string]string{
		"protocol 0, first line longer than any cap": long,
		"first opcode SHORT_BINBYTES":                "C\x03abc0\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.",
		"first opcode BINBYTES":                      "B\x02\x00\x00\x00hi0cos\nsystem\n(S'id'\ntR.",
		"first opcode BININT1, then GLOBAL":          "K\x010cposix\nsystem\n.",
		"PROTO 1 (Python accepts it)":                "\x80\x01cos\nsystem\n.",
		"GLOBAL at the end with no final newline":    "cos\nsystem",
		"undecided at the walk bound":                strings.Repeat("N", pickle.MaxWalkBytes+10),
	} {
		t.Run(name, func(t *testing.T) {
			v := classify(t, []byte(b))
			assert.True(t, v.Pickle, "%+v", v)
			assert.Equal(t, formats.KindPickle, v.Refusal().Kind)
		})
	}
	for name, b := range map[string]string{
		"JSON":                     `{"architectures": ["LlamaForCausalLM"]}`,
		"markdown":                 "---\nlicense: mit\n---\n# Model\n",
		"REDUCE on an empty stack": "README\n",
		"STOP on an empty stack":   ".",
		"npy magic (STACK_GLOBAL on an empty stack)": "\x93NUMPY",
	} {
		t.Run(name, func(t *testing.T) {
			assert.False(t, classify(t, []byte(b)).Pickle)
		})
	}
	hidden := ziptest.Archive{Entries: []ziptest.Entry{{Name: "archive/data.pkl", Data: []byte("\x80\x02}q\x00.")}, {Name: "archive/version", Data: []byte("3\n")}}}.Build()
	npz := ziptest.Archive{Comment: hidden, Entries: []ziptest.Entry{{Name: "a.npy", Data: testdata(t, "npy/le-f4.npy")}}}.Build()
	v := classify(t, npz)
	assert.True(t, v.Pickle, "%+v", v)
	assert.Equal(t, formats.FormatPyTorchZip, v.Format)
}
