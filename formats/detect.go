package formats

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
)

// Format names what a file is, as decided by its content alone.
type Format string

// The formats Detect can name. Only Accepted ones are ever parsed and
// loaded; the rest are named so that a refusal can say what the file is.
const (
	FormatSafetensors   Format = "safetensors"
	FormatNpy           Format = "npy"
	FormatNpz           Format = "npz"            // a zip archive of .npy members
	FormatPickle        Format = "pickle"         // a raw pickle, protocol 0 to 5
	FormatPyTorchZip    Format = "pytorch-zip"    // torch.save's zip: */data.pkl, */version
	FormatPyTorchLegacy Format = "pytorch-legacy" // torch.save before 1.6: stacked pickles or tar
	FormatJoblib        Format = "joblib"         // joblib.dump: pickle with numpy wrappers
	FormatGGUF          Format = "gguf"
	FormatONNX          Format = "onnx"
	FormatHDF5          Format = "hdf5"
	FormatKeras         Format = "keras"         // Keras 3 zip: config.json, model.weights.h5
	FormatSavedModel    Format = "tf-savedmodel" // a directory with saved_model.pb
	FormatZip           Format = "zip"
	FormatTar           Format = "tar"
	Format7z            Format = "7z"
	FormatGzip          Format = "gzip"
	FormatBzip2         Format = "bzip2"
	FormatXz            Format = "xz"
	FormatZlib          Format = "zlib"
	FormatLZ4           Format = "lz4"
	FormatUnknown       Format = "unknown"
)

// SniffLen is how much of a file Detect reads.
const SniffLen = 1024 + 8

// Detect classifies the content of r (size bytes) by magic bytes and
// structure, never by name. It reads at most SniffLen bytes. It does not
// look inside containers (zip, tar, compressed streams): formats/pickle's
// Classify does. A file it cannot name is FormatUnknown with a nil error;
// the error is for I/O only.
func Detect(r io.ReaderAt, size int64) (Format, error) {
	n := max(min(size, SniffLen), 0)
	buf := make([]byte, n)
	if n > 0 {
		if _, err := r.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF) && int64(len(buf)) == n) {
			return FormatUnknown, IOError(0, err)
		}
	}
	return DetectBytes(buf, size), nil
}

var magics = []struct {
	prefix string
	format Format
}{
	{"\x93NUMPY", FormatNpy},
	{"PK\x03\x04", FormatZip},
	{"PK\x05\x06", FormatZip}, // empty archive
	{"GGUF", FormatGGUF},
	{"\x89HDF\r\n\x1a\n", FormatHDF5},
	{"7z\xbc\xaf\x27\x1c", Format7z},
	{"\x1f\x8b", FormatGzip},
	{"BZh", FormatBzip2},
	{"\xfd7zXZ\x00", FormatXz},
	{"\x04\x22\x4d\x18", FormatLZ4},
}

// DetectBytes classifies a file of the given size from its first bytes
// (SniffLen of them, or the whole file if shorter).
func DetectBytes(b []byte, size int64) Format {
	for _, m := range magics {
		if bytes.HasPrefix(b, []byte(m.prefix)) {
			return m.format
		}
	}
	switch {
	case looksSafetensors(b, size):
		// Before PROTO: a header length of 0x02NN80 (and so on) starts a
		// valid safetensors file with 0x80 0x02. Whether it is also a
		// pickle the opcode walk decides, not these two bytes.
		return FormatSafetensors
	case len(b) >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5:
		return FormatPickle
	case len(b) >= 265 && string(b[257:262]) == "ustar":
		return FormatTar
	case len(b) >= 520 && bytes.HasPrefix(b[512:], []byte("\x89HDF\r\n\x1a\n")):
		return FormatHDF5 // HDF5 with a 512-byte user block
	case looksZlib(b):
		return FormatZlib
	case looksONNX(b):
		return FormatONNX
	}
	return FormatUnknown
}

// looksSafetensors reports whether b starts like a safetensors file: a
// plausible little-endian header length followed by '{' (or whitespace, so
// that the reader, not Detect, refuses a header with leading space).
func looksSafetensors(b []byte, size int64) bool {
	if len(b) < 9 || !bytes.ContainsRune([]byte("{ \t\r\n"), rune(b[8])) {
		return false
	}
	n := binary.LittleEndian.Uint64(b)
	if b[8] != '{' && n > uint64(size-8) {
		return false
	}
	return n >= 2 && n < 1<<40 && size >= 10
}

// looksZlib reports a zlib header: deflate, a valid check, no dictionary.
func looksZlib(b []byte) bool {
	return len(b) >= 2 && b[0]&0x0f == 8 && b[0]>>4 <= 7 && b[1]&0x20 == 0 && (uint(b[0])<<8|uint(b[1]))%31 == 0
}

// looksONNX reports an ONNX ModelProto's usual start: field 1 (ir_version)
// as a small varint, then a length-delimited field (producer, graph or
// opset import). It is a heuristic; an ONNX file is refused either way.
func looksONNX(b []byte) bool {
	if len(b) < 4 || b[0] != 0x08 || b[1] == 0 || b[1] > 20 {
		return false
	}
	switch b[2] {
	case 0x12, 0x1a, 0x22, 0x2a, 0x3a, 0x42:
		return true
	}
	return false
}

// Accepted lists the formats modelgate parses strictly and may load.
var Accepted = []Format{FormatSafetensors, FormatNpy, FormatNpz, FormatGGUF}

// IsAccepted reports whether f is one of Accepted.
func IsAccepted(f Format) bool {
	for _, a := range Accepted {
		if a == f {
			return true
		}
	}
	return false
}

// IsPickleName reports whether an archive member's name says it holds a
// pickle, as the loaders that read such members by name would: torch.load
// reads */data.pkl (case-insensitively, through miniz), joblib and
// pickle users name files *.pkl, *.pickle and *.joblib. It is the one
// predicate every reader of archive members uses; content is checked
// too, whatever the name.
func IsPickleName(name string) bool {
	lower := strings.ToLower(name)
	for _, suffix := range []string{".pkl", ".pickle", ".joblib"} {
		if strings.HasSuffix(lower, suffix) {
			return true
		}
	}
	return false
}
