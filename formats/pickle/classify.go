package pickle

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/internal/strictzip"
)

// How much of a container Classify looks at.
const (
	// PeekBytes is how much of a member or decompressed stream is read.
	PeekBytes = 64 << 10
	// MaxMembers is how many archive members are looked inside.
	MaxMembers = 4096
)

// Verdict is what Classify found. Only safetensors, npy and npz with no
// pickle may go on to be parsed; Refusal says why anything else may not.
type Verdict struct {
	Format  formats.Format
	Pickle  bool     // the content is, or carries, a pickle
	Imports []string // what the pickle would import (for the message only)
	Detail  string   // where the pickle is, or what the container holds
}

// pytorchLegacyMagic is the LONG1 that starts a pre-1.6 torch.save stream.
var pytorchLegacyMagic = []byte("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")

// Classify names the content of r (size bytes) without executing or
// unpickling anything: it sniffs magic bytes, walks pickle opcodes up to
// MaxWalkBytes, lists archive members, and decompresses at most PeekBytes
// of a compressed stream or member. A container it cannot read is refused
// by the caller, never skipped; the error is for I/O only.
func Classify(r io.ReaderAt, size int64, lim formats.Limits) (Verdict, error) {
	head, err := readHead(r, size, min(size, formats.SniffLen))
	if err != nil {
		return Verdict{}, err
	}
	if needsMore(head, size) {
		if head, err = readHead(r, size, min(size, MaxWalkBytes)); err != nil {
			return Verdict{}, err
		}
	}
	return classifyBytes(r, size, head, lim, 0), nil
}

// needsMore reports whether classifying needs more than the sniffed bytes:
// pickles (to name imports), tar headers and compressed streams. A
// safetensors, npy or zip file is classified from its first bytes (zip
// members are read through the directory).
func needsMore(head []byte, size int64) bool {
	switch formats.DetectBytes(head, size) {
	case formats.FormatPickle, formats.FormatTar, formats.FormatGzip, formats.FormatBzip2,
		formats.FormatXz, formats.FormatZlib, formats.FormatLZ4:
		return true
	case formats.FormatUnknown:
		// Text often starts with bytes that are protocol-0 opcodes; read on
		// only while the opcode walk has not failed within what was read.
		return len(head) > 0 && opcodes[head[0]] != nil && walkOpcodes(head).end == len(head)
	}
	return false
}

func readHead(r io.ReaderAt, size, n int64) ([]byte, error) {
	buf := make([]byte, max(n, 0))
	if n <= 0 {
		return buf, nil
	}
	if _, err := r.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, formats.IOError(0, err)
	}
	return buf, nil
}

// classifyBytes classifies content whose first bytes are head; r is the
// whole content when depth is 0 (for archives), nil inside a stream.
func classifyBytes(r io.ReaderAt, size int64, head []byte, lim formats.Limits, depth int) Verdict {
	f := formats.DetectBytes(head[:min(len(head), formats.SniffLen)], size)
	switch f {
	case formats.FormatUnknown, formats.FormatZlib, formats.FormatONNX:
		// No magic, or only a weak one: "(S" is both a zlib header and a
		// protocol-0 pickle's MARK, STRING.
		if IsPickle(head) {
			f = formats.FormatPickle
		}
	}
	switch f {
	case formats.FormatPickle:
		return pickleVerdict(head)
	case formats.FormatZip:
		if r == nil {
			return Verdict{Format: f, Detail: "a zip archive inside a compressed stream"}
		}
		return classifyZip(r, size, lim)
	case formats.FormatTar:
		return classifyTar(head, size)
	case formats.FormatGzip, formats.FormatBzip2, formats.FormatXz, formats.FormatZlib, formats.FormatLZ4:
		if depth > 0 {
			return Verdict{Format: f}
		}
		return classifyCompressed(f, head, lim)
	}
	return Verdict{Format: f}
}

func pickleVerdict(head []byte) Verdict {
	w := walkOpcodes(head)
	v := Verdict{Format: formats.FormatPickle, Pickle: true, Imports: w.imports}
	switch {
	case len(head) > 2 && bytes.HasPrefix(head[2:], pytorchLegacyMagic):
		v.Format = formats.FormatPyTorchLegacy
	case hasImportPrefix(w.imports, "joblib."):
		v.Format = formats.FormatJoblib
	}
	return v
}

func hasImportPrefix(imports []string, prefix string) bool {
	for _, imp := range imports {
		if strings.HasPrefix(imp, prefix) {
			return true
		}
	}
	return false
}

// IsPickle reports whether b starts like a pickle: the PROTO opcode of
// protocol 2 to 5, or, for protocols 0 and 1 (which have no marker), a run
// of well-formed opcodes that reaches STOP, imports something, or goes on
// for eight opcodes.
func IsPickle(b []byte) bool {
	if len(b) >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5 {
		return true
	}
	if len(b) == 0 || opcodes[b[0]] == nil || !opcodes[b[0]].text {
		return false
	}
	w := walkOpcodes(b)
	return (w.stopped && w.ops >= 2) || w.globals > 0 || w.ops >= 8
}

// classifyZip lists an archive's members and looks at their names and
// first bytes.
func classifyZip(r io.ReaderAt, size int64, lim formats.Limits) Verdict {
	entries, err := strictzip.List(r, size, lim)
	if err != nil {
		return Verdict{Format: formats.FormatZip, Detail: "unreadable zip: " + err.Error()}
	}
	names := map[string]bool{}
	allNpy := true
	for _, e := range entries {
		names[path.Base(e.Name)] = true
		allNpy = allNpy && strings.HasSuffix(e.Name, ".npy")
	}
	for i, e := range entries {
		base := path.Base(e.Name)
		if base == "data.pkl" || strings.HasSuffix(e.Name, ".pkl") || strings.HasSuffix(e.Name, ".pickle") || strings.HasSuffix(e.Name, ".joblib") {
			return zipPickle(r, size, e, names)
		}
		if i < MaxMembers && e.Method <= strictzip.Deflate {
			if b := strictzip.Peek(r, size, e, PeekBytes); IsPickle(b) {
				v := pickleVerdict(b)
				v.Format, v.Detail = formats.FormatZip, fmt.Sprintf("member %q is a pickle", e.Name)
				return v
			}
		}
	}
	switch {
	case allNpy:
		return Verdict{Format: formats.FormatNpz}
	case names["config.json"] && names["model.weights.h5"]:
		return Verdict{Format: formats.FormatKeras}
	}
	return Verdict{Format: formats.FormatZip, Detail: fmt.Sprintf("%d members, not all .npy", len(entries))}
}

func zipPickle(r io.ReaderAt, size int64, e *strictzip.Entry, names map[string]bool) Verdict {
	v := Verdict{Format: formats.FormatZip, Pickle: true, Detail: fmt.Sprintf("member %q is a pickle", e.Name)}
	if b := strictzip.Peek(r, size, e, PeekBytes); IsPickle(b) {
		v.Imports = walkOpcodes(b).imports
	}
	if path.Base(e.Name) == "data.pkl" && (names["version"] || names[".format_version"] || names["byteorder"]) {
		v.Format = formats.FormatPyTorchZip
	}
	return v
}

// classifyTar reads the tar headers within head: PyTorch's legacy tar
// format holds members named sys_info, pickle, storages and tensors.
func classifyTar(head []byte, size int64) Verdict {
	v := Verdict{Format: formats.FormatTar, Detail: "a tar archive"}
	for off := 0; off+512 <= len(head) && off < MaxWalkBytes; {
		h := head[off : off+512]
		name := string(bytes.TrimRight(h[:100], "\x00"))
		if name == "" {
			break
		}
		n, ok := tarSize(h[124:136])
		if !ok {
			break
		}
		if name == "pickle" || name == "storages" || name == "sys_info" || strings.HasSuffix(name, ".pkl") {
			v.Format, v.Pickle, v.Detail = formats.FormatPyTorchLegacy, true, fmt.Sprintf("tar member %q is a pickle", name)
			if name != "pickle" && name != "storages" && name != "sys_info" {
				v.Format = formats.FormatTar
			}
			return v
		}
		if body := head[min(off+512, len(head)):]; IsPickle(body[:min(len(body), int(min(n, PeekBytes)))]) {
			v.Pickle, v.Detail = true, fmt.Sprintf("tar member %q is a pickle", name)
			return v
		}
		off += 512 + int((n+511)/512*512)
	}
	return v
}

func tarSize(field []byte) (int64, bool) {
	var n int64
	for _, c := range bytes.Trim(field, " \x00") {
		if c < '0' || c > '7' || n > 1<<40 {
			return 0, false
		}
		n = n*8 + int64(c-'0')
	}
	return n, true
}

// classifyCompressed decompresses at most PeekBytes and classifies what
// comes out: joblib and others wrap pickles this way.
func classifyCompressed(f formats.Format, head []byte, lim formats.Limits) Verdict {
	var zr io.Reader
	var err error
	src := bytes.NewReader(head)
	switch f {
	case formats.FormatGzip:
		zr, err = gzip.NewReader(src)
	case formats.FormatBzip2:
		zr = bzip2.NewReader(src)
	case formats.FormatXz:
		zr, err = xz.NewReader(src)
	case formats.FormatZlib:
		zr, err = zlib.NewReader(src)
	case formats.FormatLZ4:
		zr = lz4.NewReader(src)
	}
	v := Verdict{Format: f, Detail: "compressed content that could not be decoded"}
	if err != nil {
		return v
	}
	inner := make([]byte, PeekBytes)
	n, _ := io.ReadFull(zr, inner)
	if n == 0 {
		return v
	}
	in := classifyBytes(nil, int64(n), inner[:n], lim, 1)
	if in.Pickle {
		in.Detail = fmt.Sprintf("a %s-compressed pickle", f)
		if in.Format == formats.FormatPickle {
			in.Format = formats.FormatJoblib
			if !hasImportPrefix(in.Imports, "joblib.") {
				in.Format = formats.FormatPickle
			}
		}
		return in
	}
	v.Detail = fmt.Sprintf("%s-compressed %s", f, in.Format)
	return v
}

// Accepted reports whether the verdict lets the content go on to a strict
// parser: safetensors, npy or npz, with no pickle found.
func (v Verdict) Accepted() bool {
	if v.Pickle {
		return false
	}
	switch v.Format {
	case formats.FormatSafetensors, formats.FormatNpy, formats.FormatNpz:
		return true
	}
	return false
}

// Refusal returns the refusal for a verdict that is not Accepted, and nil
// for one that is: kind pickle for anything carrying a pickle,
// unknown-format for unrecognised content, unsupported for the rest.
func (v Verdict) Refusal() *formats.Error {
	if v.Accepted() {
		return nil
	}
	detail := ""
	if v.Detail != "" {
		detail = " (" + v.Detail + ")"
	}
	switch {
	case v.Pickle:
		msg := fmt.Sprintf("content is a %s%s, which runs code when loaded", describeFormat(v.Format), detail)
		if len(v.Imports) > 0 {
			msg += "; it would import " + strings.Join(v.Imports, ", ")
		}
		return formats.Errorf(formats.KindPickle, 0, "%s; convert the model to safetensors", msg)
	case v.Format == formats.FormatUnknown:
		return formats.Errorf(formats.KindUnknownFormat, 0, "content is not a recognised model format")
	}
	return formats.Errorf(formats.KindUnsupported, 0, "content is %s%s; modelgate accepts only safetensors, npy and npz", describeFormat(v.Format), detail)
}

func describeFormat(f formats.Format) string {
	switch f {
	case formats.FormatPickle:
		return "pickle"
	case formats.FormatPyTorchZip:
		return "PyTorch zip checkpoint (pickle)"
	case formats.FormatPyTorchLegacy:
		return "legacy PyTorch checkpoint (pickle)"
	case formats.FormatJoblib:
		return "joblib file (pickle)"
	}
	return string(f) + " file"
}
