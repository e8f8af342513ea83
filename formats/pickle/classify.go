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
	"github.com/modelgate/modelgate/internal/readahead"
)

// How much of a container Classify looks at.
const (
	// PeekBytes is how much of a member or decompressed stream is read.
	PeekBytes = 64 << 10
	// MaxMembers is how many archive members are looked inside.
	MaxMembers = 4096
)

// Verdict is what Classify found. Only formats.Accepted formats with no
// pickle may go on to be parsed; Refusal says why anything else may not.
type Verdict struct {
	Format  formats.Format
	Pickle  bool     // the content is, or carries, a pickle
	Imports []string // what the pickle would import (for the message only)
	Detail  string   // where the pickle is, or what the container holds
	// Broken is set for a container whose structure cannot be read (a zip
	// whose directory no reader could find): it is malformed, not merely
	// unsupported.
	Broken bool
}

// pytorchLegacyMagic is the LONG1 that starts a pre-1.6 torch.save stream.
var pytorchLegacyMagic = []byte("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")

// Classify names the content of r (size bytes) without executing or
// unpickling anything: it walks pickle opcodes from the first byte (every
// file, whatever its magic: a polyglot is a pickle), sniffs magic bytes,
// lists archive members, and decompresses at most PeekBytes of a
// compressed stream or member. A container it cannot read is refused by
// the caller, never skipped; the error is for I/O only.
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
	return classifyBytes(r, size, head, int64(len(head)) == size, lim, 0), nil
}

// needsMore reports whether classifying needs more than the sniffed bytes:
// a pickle walk still undecided, pickles (to name imports), tar headers
// and compressed streams. A safetensors, npy or zip file is otherwise
// classified from its first bytes (zip members are read through the
// directory).
func needsMore(head []byte, size int64) bool {
	if walkOpcodes(head, size).bounded {
		return true
	}
	switch formats.DetectBytes(head, size) {
	case formats.FormatPickle, formats.FormatTar, formats.FormatGzip, formats.FormatBzip2,
		formats.FormatXz, formats.FormatZlib, formats.FormatLZ4:
		return true
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

// classifyBytes classifies content whose first bytes are head (all of it
// when complete); r is the whole content when depth is 0 (for archives),
// nil inside a stream.
func classifyBytes(r io.ReaderAt, size int64, head []byte, complete bool, lim formats.Limits, depth int) Verdict {
	total := size // the content's size, when known
	if !complete && depth > 0 {
		total = -1
	}
	f := formats.DetectBytes(head[:min(len(head), formats.SniffLen)], size)
	// An inert pickle (see walk.inert) at the start of content that is
	// structurally a format modelgate parses is that format: a valid
	// safetensors header length such as 0x2e88 is NEWTRUE then STOP, which
	// pickle.load reads as True, and nothing after it loads.
	if w := walkOpcodes(head, total); w.pickle() && !(w.inert() && formats.IsAccepted(f)) {
		return pickleVerdict(head, w)
	}
	switch f {
	case formats.FormatPickle: // a PROTO opcode: meant as a pickle, even if broken
		return pickleVerdict(head, walkOpcodes(head, total))
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

func pickleVerdict(head []byte, w walk) Verdict {
	v := Verdict{Format: formats.FormatPickle, Pickle: true, Imports: w.imports}
	switch {
	case len(head) > 2 && bytes.HasPrefix(head[2:], pytorchLegacyMagic):
		v.Format = formats.FormatPyTorchLegacy
	case hasImportPrefix(w.imports, "joblib."):
		v.Format = formats.FormatJoblib
	}
	if w.bounded && !w.stopped && !w.code {
		v.Detail = fmt.Sprintf("its first %d bytes walk as pickle opcodes and nothing proves otherwise", len(head))
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

// IsPickle reports whether content whose first bytes are b (all of it
// when complete) is a pickle: Python's pickle machine would reach STOP or
// an opcode that imports or calls something, or the walk ended undecided
// at the end of an incomplete b. Content is "not a pickle" only when the
// walk proves pickle.load fails first.
func IsPickle(b []byte, complete bool) bool {
	size := int64(-1)
	if complete {
		size = int64(len(b))
	}
	return walkOpcodes(b, size).pickle()
}

// memberPeek is how much of a member is read first; the walk reads on to
// PeekBytes only while it is undecided.
const memberPeek = 512

// peekPickle reports whether a listed member carries a pickle, and
// whether its content could be looked at.
func peekPickle(r io.ReaderAt, size int64, e *strictzip.Entry) (walk, bool) {
	for _, n := range []int{memberPeek, PeekBytes} {
		b := strictzip.Peek(r, size, e, n)
		if b == nil && e.UncompressedSize > 0 {
			return walk{}, false
		}
		w := walkOpcodes(b, int64(e.UncompressedSize))
		if !w.bounded || w.stopped || w.code || n == PeekBytes {
			return w, true
		}
	}
	panic("unreachable")
}

// classifyZip lists an archive's members under every reading a reader
// could make (strictzip.List) and looks at their names and content.
func classifyZip(r io.ReaderAt, size int64, lim formats.Limits) Verdict {
	r = readahead.New(r, size) // every member's local header and first bytes
	entries, err := strictzip.List(r, size, lim)
	if err != nil {
		return Verdict{Format: formats.FormatZip, Broken: true, Detail: "its directory cannot be read: " + err.Error()}
	}
	names := map[string]bool{}
	allNpy, keras := true, false
	for _, e := range entries {
		names[strings.ToLower(path.Base(e.Name))] = true
		allNpy = allNpy && strings.HasSuffix(e.Name, ".npy")
		keras = keras || isKerasMember(e.Name)
	}
	var blind []string
	for _, e := range entries {
		w, looked := peekPickle(r, size, e)
		switch {
		case formats.IsPickleName(e.Name) || looked && w.pickle():
			return zipPickle(e, w, names)
		case !looked:
			blind = append(blind, e.Name)
		}
	}
	switch {
	case keras: // zipfile reads bzip2 and lzma members too: no blind member hides it
		return Verdict{Format: formats.FormatKeras, Detail: "Keras builds the model from its config.json, Lambda layers and registered Python objects included, before it reads the weights"}
	case len(blind) > 0:
		return Verdict{Format: formats.FormatZip, Detail: fmt.Sprintf("members modelgate cannot look inside (method other than stored or deflate): %s", strings.Join(blind, ", "))}
	case allNpy:
		return Verdict{Format: formats.FormatNpz}
	}
	return Verdict{Format: formats.FormatZip, Detail: fmt.Sprintf("%d members, not all .npy", len(entries))}
}

func zipPickle(e *strictzip.Entry, w walk, names map[string]bool) Verdict {
	v := Verdict{Format: formats.FormatZip, Pickle: true, Detail: fmt.Sprintf("member %q is a pickle", e.Name), Imports: w.imports}
	if strings.ToLower(path.Base(e.Name)) == "data.pkl" && (names["version"] || names[".format_version"] || names["byteorder"]) {
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
		body := head[min(off+512, len(head)):]
		if m := min(int64(len(body)), n, PeekBytes); IsPickle(body[:m], m == n) {
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
	in := classifyBytes(nil, int64(n), inner[:n], n < PeekBytes, lim, 1)
	if in.Pickle {
		in.Detail = fmt.Sprintf("a %s-compressed pickle", f)
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
	return formats.IsAccepted(v.Format)
}

// Refusal returns the refusal for a verdict that is not Accepted, and nil
// for one that is: kind pickle for anything carrying a pickle, code for a
// Keras archive (its config builds Python objects),
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
		return formats.Errorf(formats.KindPickle, 0, "%s", msg)
	case v.Format == formats.FormatKeras:
		return formats.Errorf(formats.KindCode, 0, "content is a Keras archive%s", detail)
	case v.Format == formats.FormatUnknown:
		return formats.Errorf(formats.KindUnknownFormat, 0, "content is not a recognised model format")
	case v.Broken:
		return formats.Errorf(formats.KindMalformed, 0, "content is a %s%s", describeFormat(v.Format), detail)
	}
	return formats.Errorf(formats.KindUnsupported, 0, "content is %s%s; modelgate accepts only safetensors, npy, npz and GGUF", describeFormat(v.Format), detail)
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
