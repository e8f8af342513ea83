package npy

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/formats"
)

// Magic starts every .npy file.
const Magic = "\x93NUMPY"

// Array describes one array: its tensor info (in safetensors vocabulary)
// and what the .npy header said.
type Array struct {
	formats.TensorInfo        // Offset and Size locate the data in the file or member
	Descr              string // the header's descr, as written ("<f4")
	ByteOrder          byte   // '<' little-endian, '>' big-endian, '|' not applicable
	FortranOrder       bool   // data is in column-major order
	Version            [2]byte
	// Header is the header text as stored (the dict, its padding and the
	// newline), and HeaderStart its offset from the start of the .npy
	// data, for readers that parse it by position (see loader.CheckMLX).
	Header      string
	HeaderStart int64
}

// BigEndian reports whether the data is stored big-endian.
func (a *Array) BigEndian() bool { return a.ByteOrder == '>' }

// parseArray parses the .npy prefix and header at the start of b, where b
// holds at least the whole header (its length is checked by the caller) and
// the array's data occupies dataLen bytes in total after the header.
// base is the file offset of b[0].
func parseArray(prefix []byte, size int64, base int64, lim formats.Limits, read func(off int64, n int) ([]byte, *formats.Error)) (*Array, *formats.Error) {
	if !bytes.HasPrefix(prefix, []byte(Magic)) {
		return nil, formats.Errorf(formats.KindMalformed, base, "not an .npy file (no %q magic)", Magic)
	}
	a := &Array{Version: [2]byte{prefix[6], prefix[7]}}
	var hdrLen, start int64
	switch a.Version {
	case [2]byte{1, 0}:
		hdrLen, start = int64(binary.LittleEndian.Uint16(prefix[8:])), 10
	case [2]byte{2, 0}, [2]byte{3, 0}:
		if size < 12 {
			return nil, formats.Errorf(formats.KindMalformed, base, "file is %d bytes, too short for an .npy %d.0 header", size, a.Version[0])
		}
		hdrLen, start = int64(binary.LittleEndian.Uint32(prefix[8:])), 12
	default:
		return nil, formats.Errorf(formats.KindUnsupported, base+6, "npy format version %d.%d; modelgate reads 1.0, 2.0 and 3.0", a.Version[0], a.Version[1])
	}
	if hdrLen > lim.MaxNpyHeaderBytes {
		return nil, formats.Errorf(formats.KindLimitExceeded, base+8, "header is %d bytes; limit is MaxNpyHeaderBytes=%d", hdrLen, lim.MaxNpyHeaderBytes)
	}
	if hdrLen > size-start {
		return nil, formats.Errorf(formats.KindMalformed, base+8, "header length %d runs past the end of the %d bytes", hdrLen, size)
	}
	hdr, err := read(start, int(hdrLen))
	if err != nil {
		return nil, err
	}
	if err := a.parseHeader(hdr, base+start, lim); err != nil {
		return nil, err
	}
	a.Header, a.HeaderStart = string(hdr), start
	return a, a.checkData(size, start+hdrLen, base, lim)
}

// parseHeader parses the header text: a dict literal, spaces, and '\n'.
func (a *Array) parseHeader(hdr []byte, base int64, lim formats.Limits) *formats.Error {
	if i := bytes.IndexByte(hdr, 0); i >= 0 {
		return formats.Errorf(formats.KindMalformed, base+int64(i), "NUL byte in header")
	}
	text, err := decodeHeader(hdr, a.Version[0], base)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(text, "\n") {
		return formats.Errorf(formats.KindMalformed, base+int64(len(hdr)), "header does not end with a newline")
	}
	p := &parser{s: text[:len(text)-1], base: base, allowL: a.Version[0] < 3}
	if p.peek() != '{' {
		return p.errf("header is not a dict")
	}
	d, err := p.value()
	if err != nil {
		return err
	}
	if p.peek() != 0 {
		return p.errf("unexpected %s after the header dict; only spaces may follow", describe(p.peek()))
	}
	return a.fields(d, base, lim)
}

// decodeHeader returns the header as a string: ASCII for versions 1 and 2
// (numpy reads them as latin-1 but writes non-ASCII only in version 3),
// UTF-8 for version 3.
func decodeHeader(hdr []byte, major byte, base int64) (string, *formats.Error) {
	for i, c := range hdr {
		if c >= 0x80 && major < 3 {
			return "", formats.Errorf(formats.KindMalformed, base+int64(i), "non-ASCII byte %#02x in a version %d.0 header", c, major)
		}
	}
	if !utf8.Valid(hdr) {
		return "", formats.Errorf(formats.KindMalformed, base, "version 3.0 header is not valid UTF-8")
	}
	return string(hdr), nil
}

// fields checks the dict has exactly descr, fortran_order and shape, and
// fills a from them.
func (a *Array) fields(d literal, base int64, lim formats.Limits) *formats.Error {
	want := map[string]bool{"descr": true, "fortran_order": true, "shape": true}
	var descr, fortran, shape *literal
	for i, k := range d.keys {
		if !want[k] {
			return formats.Errorf(formats.KindMalformed, d.items[i].at, "unexpected key %q in header; expected descr, fortran_order and shape", k)
		}
		switch k {
		case "descr":
			descr = &d.items[i]
		case "fortran_order":
			fortran = &d.items[i]
		case "shape":
			shape = &d.items[i]
		}
	}
	if descr == nil || fortran == nil || shape == nil {
		return formats.Errorf(formats.KindMalformed, base, "header lacks one of descr, fortran_order and shape")
	}
	if err := a.setDescr(*descr); err != nil {
		return err.WithField("descr")
	}
	if fortran.kind != litBool {
		return formats.Errorf(formats.KindMalformed, fortran.at, "fortran_order is not True or False").WithField("fortran_order")
	}
	a.FortranOrder = fortran.bool
	if shape.kind != litTuple {
		return formats.Errorf(formats.KindMalformed, shape.at, "shape is not a tuple").WithField("shape")
	}
	a.Shape = make([]int64, 0, len(shape.items))
	for _, it := range shape.items {
		if it.kind != litInt {
			return formats.Errorf(formats.KindMalformed, it.at, "shape holds a non-integer").WithField("shape")
		}
		a.Shape = append(a.Shape, it.num)
	}
	return nil
}

// checkData checks that the data is exactly as long as the shape says and
// ends at the end of the file (or member).
func (a *Array) checkData(size, dataOff, base int64, lim formats.Limits) *formats.Error {
	n, err := formats.DataSize(a.DType, a.Shape, lim, base+dataOff)
	if err != nil {
		return err.WithField("shape")
	}
	if got := size - dataOff; got != n {
		return formats.Errorf(formats.KindMalformed, base+dataOff, "data is %d bytes; shape %v of %s needs %d", got, a.Shape, a.Descr, n)
	}
	a.Offset, a.Size = base+dataOff, n
	return nil
}
