package safetensors

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/modelgate/modelgate/formats"
)

// maxSafeInt is 2^53, the largest integer every JSON implementation reads
// exactly. Larger shapes and offsets are refused.
const maxSafeInt = 1 << 53

// scanner reads the JSON subset a safetensors header may use. It never
// builds a generic value tree: the header's schema is fixed, so every
// nesting level is known and anything else is refused where it appears.
type scanner struct {
	buf  []byte
	pos  int
	base int64 // file offset of buf[0]
}

func (s *scanner) off() int64 { return s.base + int64(s.pos) }

func (s *scanner) errf(format string, args ...any) *formats.Error {
	return formats.Errorf(formats.KindMalformed, s.off(), format, args...)
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.buf) {
		return 0
	}
	return s.buf[s.pos]
}

func describe(c byte) string {
	if c == 0 {
		return "end of header or NUL byte"
	}
	return strconv.QuoteRune(rune(c))
}

// expect consumes c (after whitespace) or fails saying what was wanted.
func (s *scanner) expect(c byte, what string) *formats.Error {
	if got := s.peek(); got != c {
		return s.errf("expected %s, found %s", what, describe(got))
	}
	s.pos++
	return nil
}

// next consumes ',' and reports true, or consumes close and reports false.
func (s *scanner) next(close byte) (bool, *formats.Error) {
	switch c := s.peek(); c {
	case ',':
		s.pos++
		return true, nil
	case close:
		s.pos++
		return false, nil
	default:
		return false, s.errf("expected ',' or %q, found %s", close, describe(c))
	}
}

// str reads a JSON string. The header was checked to be valid UTF-8; escapes
// are decoded, and a lone UTF-16 surrogate is refused.
func (s *scanner) str() (string, *formats.Error) {
	if err := s.expect('"', "a string"); err != nil {
		return "", err
	}
	start := s.pos
	for s.pos < len(s.buf) {
		c := s.buf[s.pos]
		switch {
		case c == '"':
			// The header buffer is private to the reader and never
			// written after parsing, so unescaped strings share it rather
			// than copy it: a 100 MB header of tensor names costs 100 MB,
			// not 200 (TestCostBudget).
			v := unsafe.String(unsafe.SliceData(s.buf[start:s.pos]), s.pos-start)
			s.pos++
			return v, nil
		case c == '\\':
			return s.strEscaped(start)
		case c < 0x20:
			return "", s.errf("control character %#02x in string", c)
		}
		s.pos++
	}
	return "", s.errf("unterminated string")
}

func (s *scanner) strEscaped(start int) (string, *formats.Error) {
	out := append([]byte(nil), s.buf[start:s.pos]...)
	for s.pos < len(s.buf) {
		c := s.buf[s.pos]
		switch {
		case c == '"':
			s.pos++
			return string(out), nil
		case c < 0x20:
			return "", s.errf("control character %#02x in string", c)
		case c != '\\':
			out = append(out, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.buf) {
			break
		}
		esc := s.buf[s.pos+1]
		s.pos += 2
		switch esc {
		case '"', '\\', '/':
			out = append(out, esc)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, err := s.unicodeEscape()
			if err != nil {
				return "", err
			}
			out = utf8.AppendRune(out, r)
		default:
			s.pos -= 2
			return "", s.errf("invalid escape \\%c in string", esc)
		}
	}
	return "", s.errf("unterminated string")
}

// unicodeEscape decodes the XXXX of \uXXXX (already consumed), joining a
// surrogate pair.
func (s *scanner) unicodeEscape() (rune, *formats.Error) {
	r1, err := s.hex4()
	if err != nil {
		return 0, err
	}
	if !utf16.IsSurrogate(r1) {
		return r1, nil
	}
	if r1 < 0xDC00 && s.pos+1 < len(s.buf) && s.buf[s.pos] == '\\' && s.buf[s.pos+1] == 'u' {
		s.pos += 2
		r2, err := s.hex4()
		if err != nil {
			return 0, err
		}
		if r := utf16.DecodeRune(r1, r2); r != utf8.RuneError {
			return r, nil
		}
	}
	return 0, s.errf("lone UTF-16 surrogate \\u%04x in string", r1)
}

func (s *scanner) hex4() (rune, *formats.Error) {
	if len(s.buf)-s.pos < 4 {
		return 0, s.errf("truncated \\u escape")
	}
	v, err := strconv.ParseUint(string(s.buf[s.pos:s.pos+4]), 16, 16)
	if err != nil {
		return 0, s.errf("invalid \\u escape %q", s.buf[s.pos:s.pos+4])
	}
	s.pos += 4
	return rune(v), nil
}

// uint53 reads a non-negative JSON integer no larger than 2^53, in canonical
// form (no sign, fraction, exponent or leading zero).
func (s *scanner) uint53() (int64, *formats.Error) {
	c := s.peek()
	if c == '-' {
		return 0, s.errf("negative number")
	}
	if c < '0' || c > '9' {
		return 0, s.errf("expected a non-negative integer, found %s", describe(c))
	}
	start := s.pos
	for s.pos < len(s.buf) && s.buf[s.pos] >= '0' && s.buf[s.pos] <= '9' {
		s.pos++
	}
	digits := s.buf[start:s.pos]
	if len(digits) > 1 && digits[0] == '0' {
		s.pos = start
		return 0, s.errf("number with a leading zero")
	}
	if s.pos < len(s.buf) {
		if c := s.buf[s.pos]; c == '.' || c == 'e' || c == 'E' {
			s.pos = start
			return 0, s.errf("non-integer number")
		}
	}
	if len(digits) > 16 {
		s.pos = start
		return 0, s.errf("integer %s is above 2^53", digits)
	}
	v, _ := strconv.ParseInt(string(digits), 10, 64)
	if v > maxSafeInt {
		s.pos = start
		return 0, s.errf("integer %d is above 2^53", v)
	}
	return v, nil
}
