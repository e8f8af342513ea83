// Package safetext makes attacker-chosen names (file, tensor and metadata
// names) safe to print to a terminal or a CI log, and distinct in JSON.
// Unescape reads back exactly what Escape wrote (scan's JSON lines, read
// by scan --merge) and refuses any other spelling: a lone or unknown
// backslash escape, upper-case or short hex, an escape of a character
// Escape leaves as it is, or a character Escape would have escaped.
package safetext

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every byte or character that could move the
// cursor, erase, recolour or reorder a terminal line replaced by a Go-style
// escape: C0 and C1 controls and DEL (\x1b, \u009b), Unicode bidi and
// direction marks (\u202e, \u2066), and bytes that are not UTF-8 (\xff). A
// backslash is doubled, so that distinct names stay distinct. Other text
// is unchanged.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// ErrNotEscaped is Unescape's error: the text is not what Escape writes.
var ErrNotEscaped = errors.New("not text as safetext.Escape writes it")

// Unescape is Escape's inverse: Unescape(Escape(s)) is s for every s. It
// takes only what Escape writes (\\, \xNN and \uNNNN in lower-case hex,
// each where Escape would put it, and every other character as Escape
// leaves it) and returns ErrNotEscaped for anything else, so that one
// name has one escaped spelling.
func Unescape(e string) (string, error) {
	if !strings.Contains(e, `\`) {
		if needsEscape(e) {
			return "", ErrNotEscaped
		}
		return e, nil
	}
	var b strings.Builder
	for i := 0; i < len(e); {
		if e[i] != '\\' {
			b.WriteByte(e[i])
			i++
			continue
		}
		if i+1 >= len(e) {
			return "", ErrNotEscaped
		}
		switch e[i+1] {
		case '\\':
			b.WriteByte('\\')
			i += 2
		case 'x':
			v, err := lowerHex(e, i+2, 2)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(v))
			i += 4
		case 'u':
			v, err := lowerHex(e, i+2, 4)
			if err != nil {
				return "", err
			}
			b.WriteRune(rune(v))
			i += 6
		default:
			return "", ErrNotEscaped
		}
	}
	s := b.String()
	if Escape(s) != e { // an escape where Escape writes none, or none where it writes one
		return "", ErrNotEscaped
	}
	return s, nil
}

// lowerHex reads n lower-case hex digits of e at i.
func lowerHex(e string, i, n int) (uint64, error) {
	if i+n > len(e) {
		return 0, ErrNotEscaped
	}
	h := e[i : i+n]
	if strings.ToLower(h) != h {
		return 0, ErrNotEscaped
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return 0, ErrNotEscaped
	}
	return v, nil
}

// Valid reports whether s can be carried in JSON as it is: valid UTF-8
// (encoding/json would replace other bytes by U+FFFD and make distinct
// names equal).
func Valid(s string) bool { return utf8.ValidString(s) }

func needsEscape(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' || unsafeRune(r) {
			return true
		}
	}
	return false
}

// unsafeRune reports C1 controls and the bidi and direction characters
// that reorder what a terminal shows.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
