package gguf

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"unicode/utf8"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/readahead"
)

// Magic starts every GGUF file.
const Magic = "GGUF"

// The bounds of the format itself, beyond formats.Limits.
const (
	// MaxKeyBytes is the spec's bound on a metadata key (2^16-1).
	MaxKeyBytes = 1<<16 - 1
	// MaxTensorNameBytes bounds a tensor name: ggml's gguf_init_from_file
	// (src/gguf.cpp) refuses a name of GGML_MAX_NAME (64) bytes or more,
	// as it needs room for the NUL in ggml_tensor.name[GGML_MAX_NAME].
	MaxTensorNameBytes = 64 - 1
	// MaxDims is GGML_MAX_DIMS.
	MaxDims = 4
	// MaxAlignment caps general.alignment.
	MaxAlignment = 1 << 20
	// DefaultAlignment applies when general.alignment is absent.
	DefaultAlignment = 32
)

// KV is one metadata pair. Value holds a uint8 … float64, bool or string
// for a scalar, and a slice of one of them ([]int32, []string, …) for an
// array.
type KV struct {
	Key   string
	Type  ValueType
	Elem  ValueType // an array's element type
	Value any
}

// Tensor is one tensor's info. Dims are in ggml's order (Dims[0] varies
// fastest); TensorInfo.Shape is the same in row-major (safetensors) order.
// TensorInfo.DType is set for plain-array types only.
type Tensor struct {
	formats.TensorInfo
	Type Type
	Dims []int64
}

// File is a parsed GGUF file: its header, metadata and tensor infos. No
// tensor data has been read.
type File struct {
	Version   uint32
	Alignment int64
	Metadata  []KV
	Tensors   []Tensor // in the order of their infos, which is their data's
	DataStart int64    // offset of the tensor data section
	HeaderEnd int64    // where the tensor infos end: DataStart is it aligned up
	byKey     map[string]int
	byName    map[string]int // index in Tensors
	r         io.ReaderAt
	data      []byte
}

// Lookup returns the metadata pair named key.
func (f *File) Lookup(key string) (KV, bool) {
	i, ok := f.byKey[key]
	if !ok {
		return KV{}, false
	}
	return f.Metadata[i], true
}

// Tensor returns the tensor named name.
func (f *File) Tensor(name string) (Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Tensor{}, false
	}
	return f.Tensors[i], true
}

// Section returns a reader of tensor t's bytes as stored.
func (f *File) Section(t Tensor) *io.SectionReader {
	return io.NewSectionReader(f.r, t.Offset, t.Size)
}

// Bytes returns tensor t's bytes as sub-slice of the mapping given to
// NewReaderMapped, or false.
func (f *File) Bytes(t Tensor) ([]byte, bool) {
	if f.data == nil {
		return nil, false
	}
	return f.data[t.Offset : t.Offset+t.Size : t.Offset+t.Size], true
}

// NewReader parses the GGUF file of the given size read from r (see the
// package doc for what it refuses). It reads the header, metadata and
// tensor infos, never the tensor data.
func NewReader(r io.ReaderAt, size int64, lim formats.Limits) (*File, error) {
	f, err := parse(r, size, lim.WithDefaults())
	if err != nil {
		return nil, err
	}
	return f, nil
}

// NewReaderMapped is NewReader for a file mem maps: headers are read
// through r, and Bytes hands out sub-slices of mem.
func NewReaderMapped(r io.ReaderAt, mem []byte, lim formats.Limits) (*File, error) {
	f, err := parse(r, int64(len(mem)), lim.WithDefaults())
	if err != nil {
		return nil, err
	}
	f.data = mem
	return f, nil
}

// cursor reads little-endian fields in sequence, each checked against the
// file's size before it is read.
type cursor struct {
	r    io.ReaderAt
	size int64
	off  int64
	buf  [8]byte
}

func (c *cursor) bytes(n int64, what string) ([]byte, *formats.Error) {
	if n < 0 || n > c.size-c.off {
		return nil, formats.Errorf(formats.KindMalformed, c.off, "%s of %d bytes runs past the end of the %d-byte file", what, n, c.size)
	}
	var b []byte
	if n <= 8 {
		b = c.buf[:n]
	} else {
		b = make([]byte, n)
	}
	if n > 0 {
		if _, err := c.r.ReadAt(b, c.off); err != nil && !(err == io.EOF && c.off+n == c.size) {
			return nil, formats.IOError(c.off, err)
		}
	}
	c.off += n
	return b, nil
}

func (c *cursor) u32(what string) (uint32, *formats.Error) {
	b, err := c.bytes(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (c *cursor) u64(what string) (uint64, *formats.Error) {
	b, err := c.bytes(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a gguf_string_t of at most max bytes.
func (c *cursor) str(what string, max int64) (string, *formats.Error) {
	at := c.off
	n, err := c.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(max) {
		return "", formats.Exceeded(at, what+" length", int64(min(n, math.MaxInt64)), "the bound", max)
	}
	b, err := c.bytes(int64(n), what)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func parse(r io.ReaderAt, size int64, lim formats.Limits) (*File, *formats.Error) {
	c := &cursor{r: readahead.New(r, size), size: size}
	magic, err := c.bytes(4, "magic")
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, formats.Errorf(formats.KindMalformed, 0, "not a GGUF file (no %q magic)", Magic)
	}
	f := &File{r: r, Alignment: DefaultAlignment, byKey: map[string]int{}}
	if f.Version, err = c.u32("version"); err != nil {
		return nil, err
	}
	switch v := f.Version; {
	case v == 2 || v == 3:
	case v == 1:
		return nil, formats.Errorf(formats.KindUnsupported, 4, "GGUF version 1 (32-bit counts and lengths) is not read; reconvert the model")
	case bits.ReverseBytes32(v) >= 1 && bits.ReverseBytes32(v) <= 3:
		return nil, formats.Errorf(formats.KindUnsupported, 4, "a big-endian GGUF file (version %d byte-swapped); modelgate reads little-endian GGUF", bits.ReverseBytes32(v))
	default:
		return nil, formats.Errorf(formats.KindUnsupported, 4, "GGUF version %d; modelgate reads versions 2 and 3", v)
	}
	nTensors, err := c.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := c.u64("metadata count")
	if err != nil {
		return nil, err
	}
	// Before anything is allocated for them: each pair takes at least 13
	// bytes (key length, one key byte, value type, one value byte), each
	// tensor info 32 (name length, dimension count, one dimension, type,
	// offset).
	switch {
	case nTensors > uint64(lim.MaxTensors):
		return nil, formats.Exceeded(8, "tensor count", int64(min(nTensors, math.MaxInt64)), "MaxTensors", lim.MaxTensors)
	case nKV > uint64(lim.MaxMetadataEntries):
		return nil, formats.Exceeded(16, "metadata count", int64(min(nKV, math.MaxInt64)), "MaxMetadataEntries", lim.MaxMetadataEntries)
	case nKV*13+nTensors*32 > uint64(size-c.off):
		return nil, formats.Errorf(formats.KindMalformed, 16, "%d metadata pairs and %d tensor infos cannot fit in the %d-byte file", nKV, nTensors, size)
	}
	if err := f.readMetadata(c, int(nKV), lim); err != nil {
		return nil, err
	}
	if err := f.readTensors(c, int(nTensors), lim); err != nil {
		return nil, err
	}
	return f, f.layout(c, size, lim)
}

// readMetadata reads the pairs, refusing duplicate keys, keys that are not
// printable ASCII, unknown value types, nested arrays, booleans other than
// 0 and 1, and more than MaxMetadataBytes in all; general.alignment must be
// a uint32 power of two up to MaxAlignment.
func (f *File) readMetadata(c *cursor, n int, lim formats.Limits) *formats.Error {
	start := c.off
	f.Metadata = make([]KV, 0, n)
	for i := 0; i < n; i++ {
		at := c.off
		key, err := c.str("metadata key", min(int64(MaxKeyBytes), lim.MaxNameBytes))
		if err != nil {
			return err
		}
		if !asciiKey(key) {
			return formats.Errorf(formats.KindMalformed, at, "metadata key %q is not printable ASCII", key)
		}
		if _, dup := f.byKey[key]; dup {
			return formats.Errorf(formats.KindMalformed, at, "metadata key %q is listed twice", key).WithField(key)
		}
		vt, err := c.u32("value type")
		if err != nil {
			return err
		}
		kv := KV{Key: key, Type: ValueType(vt)}
		if kv.Value, kv.Elem, err = readValue(c, kv.Type, lim, start); err != nil {
			return err.WithField(key)
		}
		if key == "general.alignment" {
			if err := f.setAlignment(kv, at); err != nil {
				return err
			}
		}
		f.byKey[key] = len(f.Metadata)
		f.Metadata = append(f.Metadata, kv)
	}
	return nil
}

func asciiKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (f *File) setAlignment(kv KV, at int64) *formats.Error {
	v, ok := kv.Value.(uint32)
	if !ok {
		return formats.Errorf(formats.KindMalformed, at, "general.alignment is a %s; the spec says uint32", kv.Type).WithField(kv.Key)
	}
	if v == 0 || v&(v-1) != 0 || v > MaxAlignment {
		return formats.Errorf(formats.KindMalformed, at, "general.alignment %d is not a power of two up to %d", v, MaxAlignment).WithField(kv.Key)
	}
	f.Alignment = int64(v)
	return nil
}

// readValue reads one value of type vt; start is where the metadata began,
// for MaxMetadataBytes.
func readValue(c *cursor, vt ValueType, lim formats.Limits, start int64) (any, ValueType, *formats.Error) {
	at := c.off
	switch vt {
	case String:
		s, err := metaString(c, lim, start)
		return s, 0, err
	case Array:
		et, err := c.u32("array element type")
		if err != nil {
			return nil, 0, err
		}
		elem := ValueType(et)
		switch {
		case elem == Array:
			return nil, 0, formats.Errorf(formats.KindUnsupported, at, "nested arrays, which llama.cpp and gguflib do not read")
		case elem > Float64:
			return nil, 0, formats.Errorf(formats.KindMalformed, at, "unknown array element type %d", et)
		}
		n, err := c.u64("array length")
		if err != nil {
			return nil, 0, err
		}
		minSize := elem.fixedSize()
		if elem == String {
			minSize = 8 // at least its length
		}
		if n > uint64(c.size-c.off)/uint64(minSize) {
			return nil, 0, formats.Errorf(formats.KindMalformed, at, "an array of %d %s values cannot fit in the rest of the file", n, elem)
		}
		// Before anything is read or allocated for it: the declared length
		// times the least each element takes must fit in what is left of
		// MaxMetadataBytes (a string element takes its 8-byte length).
		if used := c.off - start; n > uint64(lim.MaxMetadataBytes-min(used, lim.MaxMetadataBytes))/uint64(minSize) {
			declared := used + int64(n)*minSize // n*minSize fits: it is within the file's size
			return nil, 0, formats.Exceeded(at, "metadata size", declared, "MaxMetadataBytes", lim.MaxMetadataBytes)
		}
		v, err := readArray(c, elem, int(n), lim, start)
		return v, elem, err
	}
	size := vt.fixedSize()
	if size == 0 {
		return nil, 0, formats.Errorf(formats.KindMalformed, at, "unknown metadata value type %d", vt)
	}
	b, err := c.bytes(size, vt.String())
	if err != nil {
		return nil, 0, err
	}
	v, err := scalar(vt, b, at)
	return v, 0, withinMetadata(c, lim, start, err)
}

// metaString reads a string value or array element: no longer than what
// is left of MaxMetadataBytes (checked from its declared length, before it
// is read), UTF-8 with no NUL. Readers disagree on the others: llama.cpp's
// C API hands out a string cut at its first NUL, gguf-py raises on invalid
// UTF-8, and @huggingface/gguf substitutes U+FFFD.
func metaString(c *cursor, lim formats.Limits, start int64) (string, *formats.Error) {
	at := c.off
	left := lim.MaxMetadataBytes - min(c.off-start, lim.MaxMetadataBytes)
	n, err := c.u64("string length")
	if err != nil {
		return "", err
	}
	if n > uint64(max(left-8, 0)) {
		return "", formats.Exceeded(at, "metadata size", (c.off-start)+int64(min(n, math.MaxInt64-uint64(c.off))), "MaxMetadataBytes", lim.MaxMetadataBytes)
	}
	b, err := c.bytes(int64(n), "string")
	if err != nil {
		return "", err
	}
	if err := checkText(b, at, "string"); err != nil {
		return "", err
	}
	return string(b), nil
}

// checkText refuses a string that holds a NUL or is not UTF-8.
func checkText(b []byte, at int64, what string) *formats.Error {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return formats.Errorf(formats.KindMalformed, at, "%s holds a NUL at byte %d; llama.cpp reads it cut there, other readers whole", what, i)
	}
	if !utf8.Valid(b) {
		return formats.Errorf(formats.KindMalformed, at, "%s is not valid UTF-8; gguf-py refuses it, @huggingface/gguf substitutes U+FFFD", what)
	}
	return nil
}

func withinMetadata(c *cursor, lim formats.Limits, start int64, err *formats.Error) *formats.Error {
	if err == nil && c.off-start > lim.MaxMetadataBytes {
		return formats.Exceeded(c.off, "metadata size", c.off-start, "MaxMetadataBytes", lim.MaxMetadataBytes)
	}
	return err
}

// scalar decodes one value of type vt from b.
func scalar(vt ValueType, b []byte, at int64) (any, *formats.Error) {
	v, err := values(vt, b, at)
	if err != nil {
		return nil, err
	}
	return reflect.ValueOf(v).Index(0).Interface(), nil
}

// values decodes b, consecutive little-endian values of the scalar type
// vt, into a slice of their Go type ([]uint8 … []float64, []bool): one
// allocation, however many values.
func values(vt ValueType, b []byte, at int64) (any, *formats.Error) {
	le := binary.LittleEndian
	switch vt {
	case Uint8:
		return slices.Clone(b), nil
	case Int8:
		return decode(b, 1, func(p []byte) int8 { return int8(p[0]) }), nil
	case Uint16:
		return decode(b, 2, le.Uint16), nil
	case Int16:
		return decode(b, 2, func(p []byte) int16 { return int16(le.Uint16(p)) }), nil
	case Uint32:
		return decode(b, 4, le.Uint32), nil
	case Int32:
		return decode(b, 4, func(p []byte) int32 { return int32(le.Uint32(p)) }), nil
	case Float32:
		return decode(b, 4, func(p []byte) float32 { return math.Float32frombits(le.Uint32(p)) }), nil
	case Uint64:
		return decode(b, 8, le.Uint64), nil
	case Int64:
		return decode(b, 8, func(p []byte) int64 { return int64(le.Uint64(p)) }), nil
	case Float64:
		return decode(b, 8, func(p []byte) float64 { return math.Float64frombits(le.Uint64(p)) }), nil
	case Bool:
		if i := slices.IndexFunc(b, func(v byte) bool { return v > 1 }); i >= 0 {
			return nil, formats.Errorf(formats.KindMalformed, at+int64(i), "bool value %d is neither 0 nor 1", b[i])
		}
		return decode(b, 1, func(p []byte) bool { return p[0] == 1 }), nil
	}
	return nil, formats.Errorf(formats.KindMalformed, at, "unknown metadata value type %d", vt)
}

// decode applies f to each size-byte value of b.
func decode[T any](b []byte, size int, f func([]byte) T) []T {
	out := make([]T, len(b)/size)
	for i := range out {
		out[i] = f(b[i*size:])
	}
	return out
}

// readArray reads n elements of type elem into a slice of their Go type
// ([]string for strings).
func readArray(c *cursor, elem ValueType, n int, lim formats.Limits, start int64) (any, *formats.Error) {
	if elem == String {
		out := make([]string, n)
		for i := range out {
			s, err := metaString(c, lim, start)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	at := c.off
	b, err := c.bytes(int64(n)*elem.fixedSize(), elem.String()+" array")
	if err = withinMetadata(c, lim, start, err); err != nil {
		return nil, err
	}
	return values(elem, b, at)
}

// readTensors reads the tensor infos: a UTF-8 name of at most
// MaxTensorNameBytes with no NUL, unique; 1 to MaxDims dimensions, each
// positive and within MaxDim, their product within int64; a known type whose
// block size divides the first dimension; an offset that is a multiple of
// the alignment.
func (f *File) readTensors(c *cursor, n int, lim formats.Limits) *formats.Error {
	f.Tensors = make([]Tensor, 0, n)
	f.byName = make(map[string]int, n)
	var total int64
	for i := 0; i < n; i++ {
		at := c.off
		name, err := c.str("tensor name", min(int64(MaxTensorNameBytes), lim.MaxNameBytes))
		if err != nil {
			return err
		}
		bad := func(format string, args ...any) *formats.Error {
			return formats.Errorf(formats.KindMalformed, at, format, args...).WithField(name)
		}
		switch {
		case name == "" || !utf8.ValidString(name) || slices.Contains([]byte(name), 0):
			return bad("tensor name %q is empty, not UTF-8 or holds a NUL", name)
		}
		if _, dup := f.byName[name]; dup {
			return bad("tensor %q is listed twice", name)
		}
		f.byName[name] = i
		nd, err := c.u32("dimension count")
		if err != nil {
			return err
		}
		if nd < 1 || nd > MaxDims {
			return bad("%d dimensions; GGUF tensors have 1 to %d", nd, MaxDims)
		}
		t := Tensor{Dims: make([]int64, nd)}
		elems := int64(1)
		for d := range t.Dims {
			v, err := c.u64("dimension")
			if err != nil {
				return err
			}
			switch {
			case v == 0:
				return bad("dimension %d is 0", d)
			case v > uint64(lim.MaxDim):
				return formats.Exceeded(at, "dimension", int64(min(v, math.MaxInt64)), "MaxDim", lim.MaxDim).WithField(name)
			}
			t.Dims[d] = int64(v)
			var ok bool
			if elems, ok = formats.MulInt64(elems, int64(v)); !ok {
				return bad("dimensions %v: element count overflows", t.Dims[:d+1])
			}
		}
		typ, err := c.u32("type")
		if err != nil {
			return err
		}
		t.Type = Type(typ)
		info, known := types[t.Type]
		if !known {
			return formats.Errorf(formats.KindUnsupported, at, "ggml type %d is not in ggml's type table (removed, or newer than ggml d99724f)", typ).WithField(name)
		}
		if t.Dims[0]%info.block != 0 {
			return bad("first dimension %d is not a multiple of %s's block size %d", t.Dims[0], info.name, info.block)
		}
		off, err := c.u64("offset")
		if err != nil {
			return err
		}
		if off > math.MaxInt64 || int64(off)%f.Alignment != 0 {
			return bad("offset %d is not a multiple of the alignment %d", off, f.Alignment)
		}
		size, ok := formats.MulInt64(elems/info.block, info.size)
		if !ok {
			return bad("data size overflows")
		}
		if total, ok = formats.AddInt64(total, size); !ok || total > lim.MaxTotalBytes {
			return formats.Exceeded(at, "total tensor bytes", total, "MaxTotalBytes", lim.MaxTotalBytes).WithField(name)
		}
		t.Name, t.DType, t.Offset, t.Size = name, info.dtype, int64(off), size
		t.Shape = make([]int64, nd)
		for d, v := range t.Dims {
			t.Shape[int(nd)-1-d] = v
		}
		f.Tensors = append(f.Tensors, t)
	}
	return nil
}

// layout places the data section at the aligned end of the tensor infos
// (zero padding), and requires the tensors to tile it in the order their
// infos are listed, as ggml's gguf_init_from_file (src/gguf.cpp at
// ggml-org/ggml d99724f) does: each tensor's offset is the sum of the
// sizes, each padded to the alignment, of the tensors listed before it
// ("tensor 'x' has offset X, expected Y"). None may run past the file,
// and nothing may follow the last but padding. Offsets become absolute.
func (f *File) layout(c *cursor, size int64, lim formats.Limits) *formats.Error {
	f.HeaderEnd, f.DataStart = c.off, alignUp(c.off, f.Alignment)
	if f.DataStart > size && len(f.Tensors) > 0 {
		return formats.Errorf(formats.KindMalformed, c.off, "the data section would start at %d, past the end of the %d-byte file", f.DataStart, size)
	}
	if err := zeros(c, min(f.DataStart, size), "header padding"); err != nil {
		return err
	}
	var end int64 // relative to the data section
	for i := range f.Tensors {
		t := &f.Tensors[i]
		want := alignUp(end, f.Alignment)
		switch {
		case t.Offset != want:
			return formats.Errorf(formats.KindMalformed, f.DataStart+min(t.Offset, size), "tensor %q has offset %d, expected %d: ggml requires the tensors in the order of their infos, each at the padded end of the one listed before it", t.Name, t.Offset, want).WithField(t.Name)
		case t.Size > size-f.DataStart-t.Offset:
			return formats.Errorf(formats.KindMalformed, f.DataStart+t.Offset, "tensor %q's %d bytes run past the end of the file", t.Name, t.Size).WithField(t.Name)
		}
		end = t.Offset + t.Size
		t.Offset += f.DataStart
	}
	last := f.DataStart + end
	if len(f.Tensors) == 0 {
		last = c.off
	}
	if size > alignUp(last, f.Alignment) {
		return formats.Errorf(formats.KindMalformed, alignUp(last, f.Alignment), "%d bytes after the last tensor and its padding", size-alignUp(last, f.Alignment))
	}
	c.off = last
	return zeros(c, size, "trailing padding")
}

// zeros checks that the bytes from c's offset to end are zero padding.
func zeros(c *cursor, end int64, what string) *formats.Error {
	if end <= c.off {
		return nil
	}
	at := c.off
	b, err := c.bytes(end-c.off, what)
	if err != nil {
		return err
	}
	for i, v := range b {
		if v != 0 {
			return formats.Errorf(formats.KindMalformed, at+int64(i), "%s holds a non-zero byte", what)
		}
	}
	return nil
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }
