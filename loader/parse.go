package loader

import (
	"io"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/formats/npy"
	"github.com/modelgate/modelgate/formats/pickle"
	"github.com/modelgate/modelgate/formats/safetensors"
)

// Tensor is one tensor of a parsed file, in safetensors vocabulary, with
// what its source format adds.
type Tensor struct {
	formats.TensorInfo
	Descr        string `json:"descr,omitempty"`         // npy: numpy's dtype, byte order included
	FortranOrder bool   `json:"fortran_order,omitempty"` // npy: data is column-major
	BigEndian    bool   `json:"big_endian,omitempty"`    // npy: data is big-endian
	Member       string `json:"member,omitempty"`        // npz: the zip member
	Compressed   bool   `json:"compressed,omitempty"`    // npz: deflated; Offset is within the inflated member
	GGMLType     string `json:"ggml_type,omitempty"`     // GGUF: the ggml type (DType is set for plain arrays only)
	npy          *npy.Array
	ggml         gguf.Type
}

// File is one parsed model file.
type File struct {
	Format   formats.Format
	Size     int64
	Metadata map[string]string // safetensors __metadata__
	Tensors  []Tensor          // in the order of their data
	byName   map[string]int
	src      source
	file     io.ReaderAt // the mapped file itself, for Section (see Section)
	verified io.ReaderAt // the whole file's verified bytes, as held (for Seal)
	gguf     *gguf.File  // a GGUF file's parsed header: every metadata pair
}

// GGUF returns a GGUF file's parsed header (all its metadata), or nil.
func (f *File) GGUF() *gguf.File { return f.gguf }

// source hands out tensor data by name.
type source interface {
	Section(name string) (*io.SectionReader, bool)
	Bytes(name string) ([]byte, bool)
}

// Parse identifies the content of r (size bytes) and parses it strictly.
// Pickle-bearing content is refused with kind pickle, every format but
// safetensors, npy, npz and GGUF with unsupported or unknown-format, and a file
// of an accepted format by its parser. If mem is not nil it must hold the
// same bytes as r (a mapping); tensor data is then handed out zero-copy.
func Parse(r io.ReaderAt, size int64, mem []byte, lim formats.Limits) (*File, error) {
	f, _, err := parse(r, size, mem, lim)
	return f, err
}

// parse is Parse, also returning what the content was classified as.
func parse(r io.ReaderAt, size int64, mem []byte, lim formats.Limits) (*File, formats.Format, error) {
	v, err := pickle.Classify(r, size, lim)
	if err != nil {
		return nil, formats.FormatUnknown, err
	}
	if e := v.Refusal(); e != nil {
		return nil, v.Format, e
	}
	f, err := parseFormat(v.Format, r, size, mem, lim)
	return f, v.Format, err
}

// parseFormat parses r strictly as format, which classification decided.
func parseFormat(format formats.Format, r io.ReaderAt, size int64, mem []byte, lim formats.Limits) (*File, error) {
	f := &File{Format: format, Size: size}
	var err error
	switch format {
	case formats.FormatSafetensors:
		err = f.parseSafetensors(r, size, mem, lim)
	case formats.FormatNpy:
		err = f.parseNpy(r, size, mem, lim)
	case formats.FormatNpz:
		err = f.parseNpz(r, size, mem, lim)
	case formats.FormatGGUF:
		err = f.parseGGUF(r, size, mem, lim)
	default:
		err = formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%s is not a format modelgate parses", format)
	}
	if err != nil {
		return nil, err
	}
	f.byName = make(map[string]int, len(f.Tensors))
	for i, t := range f.Tensors {
		f.byName[t.Name] = i
	}
	return f, nil
}

func (f *File) parseSafetensors(r io.ReaderAt, size int64, mem []byte, lim formats.Limits) error {
	var st *safetensors.File
	var err error
	if mem != nil {
		st, err = safetensors.NewReaderMapped(r, mem, lim)
	} else {
		st, err = safetensors.NewReader(r, size, lim)
	}
	if err != nil {
		return err
	}
	f.Metadata, f.src = st.Metadata(), st
	ts := st.Tensors()
	f.Tensors = make([]Tensor, len(ts))
	for i, t := range ts {
		f.Tensors[i] = Tensor{TensorInfo: t}
	}
	return nil
}

func (f *File) parseNpy(r io.ReaderAt, size int64, mem []byte, lim formats.Limits) error {
	var a *npy.File
	var err error
	if mem != nil {
		a, err = npy.NewReaderBytes(mem, lim)
	} else {
		a, err = npy.NewReader(r, size, lim)
	}
	if err != nil {
		return err
	}
	f.src = npySource{f: a}
	f.Tensors = []Tensor{npyTensor(a.Array, "", false)}
	return nil
}

func npyTensor(a npy.Array, member string, compressed bool) Tensor {
	return Tensor{TensorInfo: a.TensorInfo, Descr: a.Descr, FortranOrder: a.FortranOrder, BigEndian: a.BigEndian(), Member: member, Compressed: compressed, npy: &a}
}

// npySource serves a single .npy file's data under its one name ("" until
// the loader names it after the file).
type npySource struct {
	f    *npy.File
	name string
}

func (s npySource) Section(name string) (*io.SectionReader, bool) {
	return s.f.Section(), name == s.name
}

func (s npySource) Bytes(name string) ([]byte, bool) {
	if name != s.name {
		return nil, false
	}
	return s.f.Bytes()
}

func (f *File) parseNpz(r io.ReaderAt, size int64, mem []byte, lim formats.Limits) error {
	var a *npy.Archive
	var err error
	if mem != nil {
		a, err = npy.NewArchiveMapped(r, mem, lim)
	} else {
		a, err = npy.NewArchive(r, size, lim)
	}
	if err != nil {
		return err
	}
	f.src = a
	f.Tensors = slices.Grow(f.Tensors, len(a.Members()))
	for _, m := range a.Members() {
		f.Tensors = append(f.Tensors, npyTensor(m.Array, m.Entry, !m.Stored))
	}
	return nil
}

// NpyName is the name of an .npy file's one tensor: its path relative to
// the model directory (a single file: its base name) without ".npy", as
// np.savez and mx.savez name npz members. inspect, convert and Model all
// use it.
func NpyName(file string) string { return strings.TrimSuffix(file, ".npy") }

// nameNpy names an .npy file's tensor after the file.
func (f *File) nameNpy(file string) {
	s, ok := f.src.(npySource)
	if !ok || len(f.Tensors) != 1 {
		return
	}
	name := NpyName(file)
	s.name, f.src = name, npySource{f: s.f, name: name}
	f.Tensors[0].Name = name
	f.byName = map[string]int{name: 0}
}

func (f *File) parseGGUF(r io.ReaderAt, size int64, mem []byte, lim formats.Limits) error {
	var g *gguf.File
	var err error
	if mem != nil {
		g, err = gguf.NewReaderMapped(r, mem, lim)
	} else {
		g, err = gguf.NewReader(r, size, lim)
	}
	if err != nil {
		return err
	}
	f.src = ggufSource{g}
	f.Tensors = make([]Tensor, len(g.Tensors))
	for i, t := range g.Tensors {
		f.Tensors[i] = Tensor{TensorInfo: t.TensorInfo, GGMLType: t.Type.String(), ggml: t.Type}
	}
	for _, k := range []string{"general.architecture", "general.name"} {
		if kv, ok := g.Lookup(k); ok {
			if s, ok := kv.Value.(string); ok {
				if f.Metadata == nil {
					f.Metadata = map[string]string{}
				}
				f.Metadata[k] = s
			}
		}
	}
	f.gguf = g
	return nil
}

// ggufSource serves a GGUF file's tensor data by name.
type ggufSource struct{ g *gguf.File }

func (s ggufSource) Section(name string) (*io.SectionReader, bool) {
	t, ok := s.g.Tensor(name)
	if !ok {
		return nil, false
	}
	return s.g.Section(t), true
}

func (s ggufSource) Bytes(name string) ([]byte, bool) {
	t, ok := s.g.Tensor(name)
	if !ok {
		return nil, false
	}
	return s.g.Bytes(t)
}

// Tensor returns the tensor named name.
func (f *File) Tensor(name string) (Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Tensor{}, false
	}
	return f.Tensors[i], true
}

// Section returns a reader of the named tensor's bytes as stored. For a
// mapped file it reads the file (the same page cache the mapping shows)
// rather than copying out of the mapping, which would fault each page in.
func (f *File) Section(name string) (*io.SectionReader, bool) {
	if t, ok := f.Tensor(name); ok && f.file != nil && !t.Compressed {
		return io.NewSectionReader(f.file, t.Offset, t.Size), true
	}
	return f.src.Section(name)
}

// Bytes returns the named tensor's bytes without copying, when the file is
// mapped (or the tensor was inflated into memory).
func (f *File) Bytes(name string) ([]byte, bool) { return f.src.Bytes(name) }
