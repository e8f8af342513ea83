package npy

import (
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/formats"
)

// The header of an .npy file is the repr() of a Python dict. numpy reads it
// with ast.literal_eval; modelgate parses only the literals numpy writes,
// with this small grammar, and evaluates nothing:
//
//	value  = string | int | "True" | "False" | tuple | list | dict
//	string = "'" chars "'" | '"' chars '"'     (escapes: \\ \' \" only)
//	int    = digits ["L"]                      ("L": Python 2 files, v1/v2)
//	tuple  = "(" [value ("," value)* [","]] ")" (one element needs the ",")
//	list   = "[" [value ("," value)* [","]] "]"
//	dict   = "{" [string ":" value ("," string ":" value)* [","]] "}"
//
// Spaces may stand between tokens. Nesting is limited to maxDepth.
const maxDepth = 8

type litKind int

const (
	litString litKind = iota
	litInt
	litBool
	litTuple
	litList
	litDict
)

type literal struct {
	kind  litKind
	str   string
	num   int64
	bool  bool
	items []literal // tuple, list; dict values
	keys  []string  // dict keys, in order
	at    int64     // offset in the file
}

type parser struct {
	s      string
	pos    int
	base   int64
	allowL bool
	depth  int
}

func (p *parser) errf(format string, args ...any) *formats.Error {
	return formats.Errorf(formats.KindMalformed, p.base+int64(p.pos), format, args...)
}

func (p *parser) ws() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

func (p *parser) peek() byte {
	p.ws()
	if p.pos >= len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

func (p *parser) value() (literal, *formats.Error) {
	if p.depth >= maxDepth {
		return literal{}, p.errf("header nests deeper than %d", maxDepth)
	}
	at := p.base + int64(p.pos)
	c := p.peek()
	var v literal
	var err *formats.Error
	switch {
	case c == '\'' || c == '"':
		v.kind = litString
		v.str, err = p.string()
	case c >= '0' && c <= '9':
		v.kind = litInt
		v.num, err = p.int()
	case strings.HasPrefix(p.s[p.pos:], "True"), strings.HasPrefix(p.s[p.pos:], "False"):
		v.kind, v.bool = litBool, p.s[p.pos] == 'T'
		p.pos += map[bool]int{true: 4, false: 5}[v.bool]
	case c == '(' || c == '[':
		v, err = p.sequence(c)
	case c == '{':
		v, err = p.dict()
	default:
		return v, p.errf("unexpected %s in header; only Python literals numpy writes are read", describe(c))
	}
	v.at = at
	return v, err
}

func describe(c byte) string {
	if c == 0 {
		return "end of header"
	}
	return strconv.QuoteRune(rune(c))
}

func (p *parser) string() (string, *formats.Error) {
	q := p.s[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == q:
			p.pos++
			return b.String(), nil
		case c == '\\':
			if p.pos+1 >= len(p.s) || !strings.ContainsRune(`\'"`, rune(p.s[p.pos+1])) {
				return "", p.errf("unsupported escape in header string")
			}
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
			continue
		case c < 0x20 || c == 0x7f:
			return "", p.errf("control character %#02x in header string", c)
		}
		b.WriteByte(c)
		p.pos++
	}
	return "", p.errf("unterminated string in header")
}

func (p *parser) int() (int64, *formats.Error) {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	digits := p.s[start:p.pos]
	if len(digits) > 1 && digits[0] == '0' {
		p.pos = start
		return 0, p.errf("integer with a leading zero")
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		p.pos = start
		return 0, p.errf("integer %s does not fit in int64", digits)
	}
	if p.pos < len(p.s) && p.s[p.pos] == 'L' {
		if !p.allowL {
			return 0, p.errf("Python 2 long suffix 'L' in a version 3.0 header")
		}
		p.pos++
	}
	return v, nil
}

func (p *parser) sequence(open byte) (literal, *formats.Error) {
	v := literal{kind: litTuple}
	closer := byte(')')
	if open == '[' {
		v.kind, closer = litList, ']'
	}
	p.pos++
	p.depth++
	defer func() { p.depth-- }()
	trailingComma := false
	for p.peek() != closer {
		item, err := p.value()
		if err != nil {
			return v, err
		}
		v.items = append(v.items, item)
		trailingComma = false
		if p.peek() != ',' {
			break
		}
		p.pos++
		trailingComma = true
	}
	if p.peek() != closer {
		return v, p.errf("expected %q, found %s", closer, describe(p.peek()))
	}
	p.pos++
	if v.kind == litTuple && len(v.items) == 1 && !trailingComma {
		return v, p.errf("parenthesised value is not a tuple (a one-element tuple needs a trailing comma)")
	}
	return v, nil
}

func (p *parser) dict() (literal, *formats.Error) {
	v := literal{kind: litDict}
	p.pos++
	p.depth++
	defer func() { p.depth-- }()
	for p.peek() != '}' {
		c := p.peek()
		if c != '\'' && c != '"' {
			return v, p.errf("dict key is not a string")
		}
		keyAt := p.pos
		k, err := p.string()
		if err != nil {
			return v, err
		}
		for _, prev := range v.keys {
			if prev == k {
				p.pos = keyAt
				return v, p.errf("duplicate key %q", k)
			}
		}
		if p.peek() != ':' {
			return v, p.errf("expected ':' after key %q", k)
		}
		p.pos++
		item, err := p.value()
		if err != nil {
			return v, err
		}
		v.keys = append(v.keys, k)
		v.items = append(v.items, item)
		if p.peek() != ',' {
			break
		}
		p.pos++
	}
	if p.peek() != '}' {
		return v, p.errf("expected '}', found %s", describe(p.peek()))
	}
	p.pos++
	return v, nil
}
