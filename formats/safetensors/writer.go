package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/formats"
)

// Tensor is one tensor to write. Data must yield exactly the number of bytes
// that DType and Shape call for.
type Tensor struct {
	Name  string
	DType formats.DType
	Shape []int64
	Data  io.Reader
}

// Write writes tensors and metadata (which may be nil) to w as a canonical
// safetensors file: tensors ordered as the reference writer orders them
// (descending dtype, then name), a compact header with __metadata__ first
// and its keys sorted, padded with spaces to a multiple of 8 bytes so that
// data is 8-byte aligned. Any file Write produces is accepted by NewReader
// under default limits, if it has no more tensors than the limits allow.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	ts := slices.Clone(tensors)
	slices.SortFunc(ts, func(a, b Tensor) int {
		return cmp.Or(cmp.Compare(b.DType, a.DType), cmp.Compare(a.Name, b.Name))
	})
	sizes, err := checkTensors(ts)
	if err != nil {
		return err
	}
	for k := range metadata {
		if !writableName(k) {
			return formats.Errorf(formats.KindMalformed, formats.NoOffset, "cannot write metadata key %q (NUL or not UTF-8)", k)
		}
	}
	hdr := appendHeader(nil, ts, sizes, metadata)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for i, t := range ts {
		if err := copyExact(w, t, sizes[i]); err != nil {
			return err
		}
	}
	return nil
}

func checkTensors(ts []Tensor) ([]int64, error) {
	lim := formats.DefaultLimits()
	sizes := make([]int64, len(ts))
	for i, t := range ts {
		if !writableName(t.Name) || t.Name == MetadataKey || (i > 0 && ts[i-1].Name == t.Name) {
			return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "cannot write tensor name %q (reserved, duplicate, NUL or not UTF-8)", t.Name)
		}
		n, err := formats.DataSize(t.DType, t.Shape, lim, formats.NoOffset)
		if err != nil {
			return nil, err.WithField(tensorField(t.Name, ""))
		}
		sizes[i] = n
	}
	return sizes, nil
}

// writableName reports whether NewReader would accept name as a key.
func writableName(name string) bool {
	return utf8.ValidString(name) && !strings.ContainsRune(name, 0) && len(name) <= formats.DefaultMaxNameBytes
}

func copyExact(w io.Writer, t Tensor, n int64) error {
	if t.Data == nil {
		t.Data = bytes.NewReader(nil)
	}
	copied, err := io.CopyN(w, t.Data, n)
	if errors.Is(err, io.EOF) {
		return formats.Errorf(formats.KindMalformed, formats.NoOffset, "tensor %q: data is %d bytes; shape needs %d", t.Name, copied, n)
	}
	if err != nil {
		return err
	}
	var extra [1]byte
	if k, _ := t.Data.Read(extra[:]); k > 0 {
		return formats.Errorf(formats.KindMalformed, formats.NoOffset, "tensor %q: data is longer than the %d bytes its shape needs", t.Name, n)
	}
	return nil
}

// appendHeader appends the canonical JSON header for ts.
func appendHeader(b []byte, ts []Tensor, sizes []int64, metadata map[string]string) []byte {
	b = append(b, '{')
	if metadata != nil {
		b = appendString(b, MetadataKey)
		b = append(b, ":{"...)
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, metadata[k])
		}
		b = append(b, '}')
	}
	var off int64
	for i, t := range ts {
		if i > 0 || metadata != nil {
			b = append(b, ',')
		}
		b = appendString(b, t.Name)
		b = append(b, `:{"dtype":"`...)
		b = append(b, t.DType.String()...)
		b = append(b, `","shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, d, 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, off, 10)
		b = append(b, ',')
		off += sizes[i]
		b = strconv.AppendInt(b, off, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b
}

// appendString appends s as a JSON string, escaping as serde_json does:
// quote, backslash and control characters only.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
