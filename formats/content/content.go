// Package content decides what each file of a model is, from its content:
// weights (safetensors, npy, npz), a sharded checkpoint's index, code that
// runs on load, or an inert file (text, empty, a tokenizer) that may stay
// unloaded. It is the one rule loader.Open, loader.Scan and verify share.
//
// Content decides; a name only chooses the diagnosis or adds a refusal:
//
//   - content pickle.Classify accepts is weights, whatever its name;
//   - a pickle or another format is refused (pickle.Verdict.Refusal);
//   - unknown content under a weight file's name (.safetensors, .npy,
//     .npz) is weights with a diagnosis pending: the parser the name asks
//     for says what is wrong (kind malformed or limit-exceeded);
//   - *.py files are code, and so is a JSON file whose top-level keys
//     include auto_map or custom_pipelines (transformers imports the
//     Python they name with trust_remote_code); JSON that cannot be read
//     is code if its bytes could spell such a key;
//   - a Git LFS pointer (a clone made without git lfs pull) is refused:
//     the file it stands for was never downloaded;
//   - weights, and content a name could excuse (unknown, an archive, a
//     compressed stream), that parse as an ONNX model (formats/onnx: its
//     protobuf, whatever the field order) are ONNX, refused as
//     unsupported: onnx.load would read them;
//   - unknown content with a second reading is refused: a zip end record
//     in its last 64 KiB (as a pickle if the archive carries one, as code
//     if it is a Keras archive, else malformed), an HDF5 superblock where
//     h5py looks (unsupported);
//   - other unknown content is inert if it is a SentencePiece model
//     (formats/sentencepiece), an image or document (formats/media: PNG,
//     JPEG, GIF, WebP, PDF, refused as malformed when bytes follow its
//     end), empty, or text (UTF-8 with no NUL in its first 8 KiB);
//     anything else is refused as unknown-format, whatever its name;
//   - chat templates are read where renderers find them (a .jinja file,
//     a JSON file's chat_template, a GGUF file's tokenizer.chat_template*):
//     one that reaches what jinja2's sandbox forbids (formats/chattemplate)
//     makes the file code (Identity.Code) unless its digest is approved.
package content

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/onnx"
	"github.com/modelgate/modelgate/formats/pickle"
)

// Role is what a file of a model is.
type Role int

// The roles.
const (
	Weights Role = iota // safetensors, npy or npz: loaded
	Index               // a sharded checkpoint's *.safetensors.index.json
	Code                // Python source, or a config that names remote code
	Inert               // text, empty or a tokenizer: not loaded; may be excluded
)

// Identity is what Identify found.
type Identity struct {
	Role   Role
	Format formats.Format
	Why    string // inert: why it is not loaded; code: what runs
	// Diagnose is set for content that is no known format under a weight
	// file's name: the parser the name asks for says what is wrong, once
	// the file has been verified.
	Diagnose bool
	// Templates are the chat templates the file carries (a .jinja file,
	// a JSON chat_template, GGUF metadata). One that is unsafe makes the
	// file code unless a policy approves its digest (Code).
	Templates []Template
}

// Excusable reports whether an exclusion pattern may excuse a file so
// identified: names never excuse weights, code, a pickle or another model
// format (GGUF, ONNX, HDF5, Keras, TensorFlow, PyTorch), only inert files,
// unknown content (images, binaries) and archives or compressed streams
// that were looked inside and carry no pickle.
func Excusable(id Identity, err error) bool {
	if err == nil {
		return id.Role == Inert && id.Code(nil) == ""
	}
	return ExcusableRefusal(formats.KindOf(err), id.Format)
}

// ExcusableRefusal is Excusable for a refusal of the given kind of content
// identified as format.
func ExcusableRefusal(kind formats.Kind, format formats.Format) bool {
	switch kind {
	case formats.KindUnknownFormat:
		return true
	case formats.KindUnsupported:
		switch format {
		case formats.FormatZip, formats.FormatTar, formats.Format7z, formats.FormatGzip,
			formats.FormatBzip2, formats.FormatXz, formats.FormatZlib, formats.FormatLZ4:
			return true
		}
	}
	return false
}

// WeightFormatByName returns the format a weight file's name asks for.
func WeightFormatByName(name string) (formats.Format, bool) {
	f, ok := weightExt[path.Ext(name)]
	return f, ok
}

// weightExt maps the names loaders glob for to the format they expect.
var weightExt = map[string]formats.Format{
	".safetensors": formats.FormatSafetensors,
	".npy":         formats.FormatNpy,
	".npz":         formats.FormatNpz,
	".gguf":        formats.FormatGGUF,
}

// maxConfigBytes bounds the JSON read to look for remote code; a larger
// JSON file that cannot be proven free of it is code.
const maxConfigBytes = 64 << 20

// Identify decides what the content of r (size bytes), named name, is.
// It reads the sniff window and what pickle.Classify needs, and a JSON
// file's keys; it never parses a weight file. The error is a refusal:
// a pickle, an unsupported format, or unknown binary content.
func Identify(r io.ReaderAt, size int64, name string, lim formats.Limits) (Identity, error) {
	v, err := pickle.Classify(r, size, lim)
	if err != nil {
		return Identity{}, err
	}
	refusal := v.Refusal()
	if refusal == nil || ExcusableRefusal(refusal.Kind, v.Format) {
		// Weights, or content a name may excuse: prove it is no ONNX model
		// first, whose fields may come in any order (and so start like
		// anything; a safetensors header can be a protobuf too).
		if ok, err := onnx.Is(r, size); err != nil {
			return Identity{}, err
		} else if ok {
			return Identity{Format: formats.FormatONNX}, pickle.Verdict{Format: formats.FormatONNX, Detail: "a protobuf ModelProto with a graph, which onnx.load reads, external data included"}.Refusal()
		}
	}
	if v.Accepted() {
		id := Identity{Role: Weights, Format: v.Format}
		if v.Format == formats.FormatGGUF {
			id.Templates = ggufTemplates(r, size, lim)
		}
		return id, nil
	}
	base := path.Base(filepath.ToSlash(name))
	if refusal.Kind != formats.KindUnknownFormat {
		return Identity{Format: v.Format}, refusal
	}
	if lfsPointer(r, size) {
		return Identity{}, formats.Errorf(formats.KindUnsupported, 0, "a Git LFS pointer stands in place of the file: the weights were not downloaded (git lfs pull, or download the model from its hub)")
	}
	if f, ok := weightExt[path.Ext(base)]; ok {
		return Identity{Role: Weights, Format: f, Diagnose: true}, nil
	}
	if strings.HasSuffix(base, ".py") {
		return Identity{Role: Code, Why: "Python source"}, nil
	}
	if err := secondReading(r, size, lim); err != nil {
		return Identity{}, err
	}
	if id, ok, err := inertBinary(r, size); ok || err != nil {
		return id, err
	}
	why := inertWhy(r, size, base)
	switch {
	case why == "":
		return Identity{}, refusal
	case strings.HasSuffix(base, ".safetensors.index.json"):
		return Identity{Role: Index}, nil
	case strings.HasSuffix(base, ".json"):
		key, templates, err := remoteCode(r, size)
		if err != nil {
			return Identity{}, err
		} else if key != "" {
			return Identity{Role: Code, Why: "a JSON config naming " + key + " (transformers runs the Python files it names with trust_remote_code)"}, nil
		}
		return Identity{Role: Inert, Why: why, Templates: templates}, nil
	}
	templates, err := jinjaTemplate(r, size, base)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Role: Inert, Why: why, Templates: templates}, nil
}

// lfsPointerPrefix starts every Git LFS pointer file.
const lfsPointerPrefix = "version https://git-lfs.github.com/spec/v1\n"

// lfsPointer reports whether the content is a Git LFS pointer: what a
// clone made without git lfs pull holds in place of each large file.
func lfsPointer(r io.ReaderAt, size int64) bool {
	if size < int64(len(lfsPointerPrefix)) || size > 1024 {
		return false
	}
	b := make([]byte, len(lfsPointerPrefix))
	_, err := r.ReadAt(b, 0)
	return err == nil && string(b) == lfsPointerPrefix
}

// inertWhy says why a file of unknown content may stay unloaded, or "".
func inertWhy(r io.ReaderAt, size int64, base string) string {
	if size == 0 {
		return "empty file"
	}
	head := make([]byte, min(size, 8<<10))
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	if bytes.IndexByte(head, 0) < 0 && utf8.Valid(trimPartialRune(head, size)) {
		return "text file, not model weights"
	}
	return ""
}

// trimPartialRune drops a rune cut by the 8 KiB window.
func trimPartialRune(b []byte, size int64) []byte {
	if int64(len(b)) == size {
		return b
	}
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

// remoteCodeKeys are the top-level keys with which transformers loads
// Python from the model repository (auto_map for AutoModel, AutoConfig,
// AutoTokenizer and AutoProcessor; custom_pipelines for pipeline()).
var remoteCodeKeys = []string{"auto_map", "custom_pipelines"}

// remoteCode returns the remote-code key a JSON file names at its top
// level, as Python's json module would read the keys (escapes decoded, any
// duplicate counts). JSON Go cannot read (Python accepts NaN and
// Infinity) is searched as bytes; if it mentions a key or holds an
// escape that could spell one, it is code, since nothing proves otherwise.
func remoteCode(r io.ReaderAt, size int64) (string, []Template, error) {
	if size > maxConfigBytes {
		return "", nil, formats.Exceeded(formats.NoOffset, "JSON file size (read to look for auto_map)", size, "maxConfigBytes", maxConfigBytes)
	}
	b := make([]byte, size)
	if _, err := r.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", nil, formats.IOError(0, err)
	}
	return remoteCodeKey(b), jsonTemplates(b), nil
}

// remoteCodeKey is remoteCode's key, from the JSON's bytes.
func remoteCodeKey(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return rawRemoteCode(b)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return rawRemoteCode(b)
		}
		key, _ := tok.(string)
		for _, k := range remoteCodeKeys {
			if key == k {
				return k
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return rawRemoteCode(b)
		}
	}
	return ""
}

func rawRemoteCode(b []byte) string {
	for _, k := range remoteCodeKeys {
		if bytes.Contains(b, []byte(k)) {
			return k
		}
	}
	if bytes.Contains(b, []byte(`\u`)) {
		return "an escaped key (unreadable JSON)"
	}
	return ""
}
