// Package pbwire walks the fields of a protobuf message in wire format
// (https://protobuf.dev/programming-guides/encoding/) from an io.ReaderAt,
// without a schema and without reading the payload of a length-delimited
// field: formats/onnx and formats/sentencepiece identify their formats
// with it. Varints, tags and groups are decoded by
// google.golang.org/protobuf/encoding/protowire.
//
// Walk refuses, as a protobuf parser does: a field number outside
// 1..2^29-1, a malformed varint, a wire type 6 or 7, a length or fixed
// value that runs past the message's end, an end-group that does not close
// the open group, and groups nested deeper than MaxDepth.
package pbwire

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelgate/modelgate/formats"
)

// MaxDepth bounds group nesting (protobuf's own default is 100 for
// messages).
const MaxDepth = 100

// Field is one field of a message.
type Field struct {
	Num  protowire.Number
	Type protowire.Type
	// Value is a varint's, fixed32's or fixed64's value.
	Value uint64
	// Off and Len locate a length-delimited field's payload, or a
	// group's body, in the reader.
	Off, Len int64
}

// ErrNotProtobuf is the cause of every refusal of the wire format itself;
// an I/O error is returned as a formats.Error of kind io instead.
var ErrNotProtobuf = errors.New("not protobuf wire format")

// Walk calls fn for each field of the message that fills r[off:end]
// exactly, in order; a group's fields are not passed to fn (Off and Len
// cover its body). An error from fn stops the walk and is returned.
func Walk(r io.ReaderAt, off, end int64, fn func(Field) error) error {
	c := &cursor{r: r, pos: off, end: end}
	return c.walk(fn, 0, 0)
}

// Bytes is Walk over a message held in memory.
func Bytes(b []byte, fn func(Field) error) error {
	return Walk(bytes.NewReader(b), 0, int64(len(b)), fn)
}

// cursor reads through a window, so that a walk over a large message
// costs one read per window, not per field. The window starts small and
// doubles on each refill: content that is no protobuf fails within its
// first bytes, and costs no more than them.
type cursor struct {
	r        io.ReaderAt
	pos, end int64
	win      []byte
	winOff   int64
	next     int // the next window's size
}

// The window's first and largest sizes.
const (
	firstWindow = 512
	maxWindow   = 64 << 10
)

// peek returns up to n bytes at pos (fewer only at end).
func (c *cursor) peek(n int) ([]byte, error) {
	if c.pos >= c.winOff && c.pos+int64(n) <= c.winOff+int64(len(c.win)) {
		return c.win[c.pos-c.winOff:][:n], nil
	}
	c.next = min(max(c.next*2, firstWindow), maxWindow)
	want := min(int64(max(n, c.next)), c.end-c.pos)
	if cap(c.win) < int(want) {
		c.win = make([]byte, want)
	}
	c.win, c.winOff = c.win[:want], c.pos
	if k, err := c.r.ReadAt(c.win, c.pos); k < len(c.win) {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, formats.IOError(c.pos, io.ErrUnexpectedEOF)
		}
		return nil, formats.IOError(c.pos, err)
	}
	return c.win[:min(int64(n), want)], nil
}

func (c *cursor) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrNotProtobuf, c.pos, fmt.Sprintf(format, args...))
}

// varint reads a varint at pos.
func (c *cursor) varint() (uint64, error) {
	b, err := c.peek(min(10, int(c.end-c.pos)))
	if err != nil {
		return 0, err
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, c.fail("%v", protowire.ParseError(n))
	}
	c.pos += int64(n)
	return v, nil
}

// walk reads fields until end, or until the end-group closing group (a
// field number, when depth > 0).
func (c *cursor) walk(fn func(Field) error, group protowire.Number, depth int) error {
	for c.pos < c.end {
		tag, err := c.varint()
		if err != nil {
			return err
		}
		num, typ := protowire.DecodeTag(tag)
		if tag>>3 > uint64(protowire.MaxValidNumber) || num < protowire.MinValidNumber {
			return c.fail("field number %d", tag>>3)
		}
		f := Field{Num: num, Type: typ}
		switch typ {
		case protowire.VarintType:
			f.Value, err = c.varint()
		case protowire.Fixed32Type, protowire.Fixed64Type:
			err = c.fixed(&f)
		case protowire.BytesType:
			err = c.bytes(&f)
		case protowire.StartGroupType:
			if depth >= MaxDepth {
				return c.fail("groups nested deeper than %d", MaxDepth)
			}
			f.Off = c.pos
			if err = c.walk(func(Field) error { return nil }, num, depth+1); err == nil {
				f.Len = c.pos - f.Off - int64(protowire.SizeTag(num))
			}
		case protowire.EndGroupType:
			if depth == 0 || num != group {
				return c.fail("end-group %d closes no open group", num)
			}
			return nil
		default:
			return c.fail("wire type %d", typ)
		}
		if err != nil {
			return err
		}
		if typ != protowire.EndGroupType {
			if err := fn(f); err != nil {
				return err
			}
		}
	}
	if depth > 0 {
		return c.fail("group %d is not closed", group)
	}
	return nil
}

func (c *cursor) fixed(f *Field) error {
	n := 4
	if f.Type == protowire.Fixed64Type {
		n = 8
	}
	if c.end-c.pos < int64(n) {
		return c.fail("fixed%d runs past the end", n*8)
	}
	b, err := c.peek(n)
	if err != nil {
		return err
	}
	if n == 4 {
		v, _ := protowire.ConsumeFixed32(b)
		f.Value = uint64(v)
	} else {
		f.Value, _ = protowire.ConsumeFixed64(b)
	}
	c.pos += int64(n)
	return nil
}

func (c *cursor) bytes(f *Field) error {
	n, err := c.varint()
	if err != nil {
		return err
	}
	if n > uint64(c.end-c.pos) {
		return c.fail("length %d runs past the end (%d bytes left)", n, c.end-c.pos)
	}
	f.Off, f.Len = c.pos, int64(n)
	c.pos += int64(n)
	return nil
}
