// Package chattemplate reads a Jinja chat template (tokenizer_config.json's
// chat_template, chat_template.jinja, GGUF's tokenizer.chat_template) as
// Jinja's lexer does, and says whether it reaches what a sandboxed
// renderer forbids. transformers renders templates in jinja2's
// ImmutableSandboxedEnvironment; other renderers (llama-cpp-python before
// 0.2.72, CVE-2024-34359) used a plain Environment, in which
// {{ ().__class__.__base__.__subclasses__() }} reaches every Python
// class, os.popen included. A template is code: modelgate refuses one
// that reaches further than the sandbox allows, unless a policy approves
// its digest.
//
// The forbidden attributes are those of jinja2 3.1's sandbox.py (Debian's
// python3-jinja2): SandboxedEnvironment.is_safe_attribute refuses every
// name starting with "_" and is_internal_attribute's names (mro on types;
// gi_frame, gi_code, cr_frame, cr_code, ag_code, ag_frame on generators
// and coroutines; everything on code, frame and traceback objects, which
// only those names or a dunder reach). The sandbox also wraps str.format
// and str.format_map, whose format strings read attributes
// ("{0.__class__}"); an unsandboxed renderer does not.
//
// Check tokenizes the template as jinja2's lexer does: text, comments and
// raw blocks are skipped; inside {{ }} and {% %} (brackets balanced, so a
// "}}" inside a string or a dict does not end them) it reads names,
// strings (escapes decoded as Jinja decodes them), numbers and operators.
// It refuses:
//
//   - an attribute access .NAME, a subscript ["NAME"] and an attr("NAME")
//     filter, with NAME forbidden (as above), and .format or .format_map;
//   - the attr filter with an argument that is not a string literal;
//   - a string literal holding "__" (a dunder, or part of one to be joined
//     at run time), or a \N{...} escape (a character by name: the lexer
//     decodes it, this package does not know every name);
//   - a subscript whose index builds a string at run time (~, |, %), or
//     names a variable that {% set %} bound to such an expression.
//
// It does not evaluate the template: a name can still be assembled from
// characters of an object's text and stored in a loop variable. That is
// why the default is a refusal only for what is visible, and approval is
// by digest: review a template before approving it.
//
// A template that does not tokenize (an unclosed string or block) is
// refused too: renderers would fail on it, and nothing is proven about it.
// So is one over MaxBytes (real templates are a few KB; the largest known
// are about 30 KB), which bounds the work.
package chattemplate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Digest is the digest a policy approves a template by: sha256 over its
// UTF-8 text, the same whether it is a file of its own, a JSON string or
// GGUF metadata.
func Digest(template string) string {
	sum := sha256.Sum256([]byte(template))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// internal are is_internal_attribute's names (jinja2/sandbox.py).
var internal = map[string]bool{
	"mro": true, "gi_frame": true, "gi_code": true, "cr_frame": true,
	"cr_code": true, "ag_code": true, "ag_frame": true,
}

// Forbidden reports whether a sandboxed renderer refuses attribute name.
func Forbidden(name string) bool {
	return strings.HasPrefix(name, "_") || internal[name]
}

// MaxBytes bounds the templates Check reads.
const MaxBytes = 1 << 20

// Check returns why the template reaches what a sandboxed renderer
// forbids, or "" if it does not.
func Check(template string) string {
	if len(template) > MaxBytes {
		return fmt.Sprintf("a template of %d bytes (MaxBytes=%d)", len(template), MaxBytes)
	}
	toks, err := lex(template)
	if err != "" {
		return err
	}
	return check(toks)
}

type kind int

const (
	tName kind = iota
	tString
	tNumber
	tOp
	tBlockStart // {{ or {%
	tBlockEnd
)

type token struct {
	kind kind
	val  string
}

// lex splits the template into the tokens of its code.
func lex(s string) ([]token, string) {
	var toks []token
	for {
		i := strings.Index(s, "{")
		for i >= 0 && i+1 < len(s) && s[i+1] != '{' && s[i+1] != '%' && s[i+1] != '#' {
			j := strings.Index(s[i+1:], "{")
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		if i < 0 || i+1 >= len(s) {
			return toks, ""
		}
		open := s[i+1]
		s = s[i+2:]
		if open == '#' {
			j := strings.Index(s, "#}")
			if j < 0 {
				return nil, "an unclosed comment"
			}
			s = s[j+2:]
			continue
		}
		s = strings.TrimLeft(s, "-+")
		toks = append(toks, token{tBlockStart, string(open)})
		var err string
		var block []token
		block, s, err = lexCode(s, open)
		if err != "" {
			return nil, err
		}
		toks = append(toks, block...)
		toks = append(toks, token{tBlockEnd, ""})
		if open == '%' && len(block) > 0 && block[0].kind == tName && block[0].val == "raw" {
			j := strings.Index(s, "endraw")
			if j < 0 {
				return nil, "an unclosed raw block"
			}
			s = s[j:]
			if k := strings.Index(s, "%}"); k >= 0 {
				s = s[k+2:]
			}
		}
	}
}

// lexCode reads the code of a block up to its end delimiter (}} or %},
// outside strings and brackets), and returns what follows.
func lexCode(s string, open byte) ([]token, string, string) {
	closer := "}}"
	if open == '%' {
		closer = "%}"
	}
	var toks []token
	depth := 0
	for {
		s = strings.TrimLeft(s, " \t\r\n\f\v")
		if s == "" {
			return nil, "", "an unclosed block"
		}
		if depth == 0 {
			for _, c := range []string{"-" + closer, "+" + closer, closer} {
				if strings.HasPrefix(s, c) {
					return toks, s[len(c):], ""
				}
			}
		}
		c := s[0]
		switch {
		case c == '\'' || c == '"':
			v, n, err := lexString(s)
			if err != "" {
				return nil, "", err
			}
			toks, s = append(toks, token{tString, v}), s[n:]
		case isNameStart(c):
			n := 1
			for n < len(s) && isNamePart(s[n]) {
				n++
			}
			toks, s = append(toks, token{tName, s[:n]}), s[n:]
		case c >= '0' && c <= '9':
			n := 1
			for n < len(s) && (isNamePart(s[n]) || s[n] == '.' && n+1 < len(s) && s[n+1] >= '0' && s[n+1] <= '9') {
				n++
			}
			toks, s = append(toks, token{tNumber, s[:n]}), s[n:]
		default:
			n := 1
			for _, op := range []string{"**", "//", "==", "!=", ">=", "<="} {
				if strings.HasPrefix(s, op) {
					n = 2
				}
			}
			switch c {
			case '(', '[', '{':
				depth++
			case ')', ']', '}':
				depth--
			}
			toks, s = append(toks, token{tOp, s[:n]}), s[n:]
		}
	}
}

// isNameStart and isNamePart accept the bytes of a Python identifier;
// bytes of UTF-8 sequences count, so that a non-ASCII name stays one
// token.
func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
func isNamePart(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' }

// lexString reads a quoted string and decodes its escapes as Python's
// unicode-escape codec does (jinja2's lexer decodes strings so).
func lexString(s string) (string, int, string) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, ""
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		n, r, err := escape(s[i:])
		if err != "" {
			return "", 0, err
		}
		b.WriteString(r)
		i += n - 1
	}
	return "", 0, "an unclosed string"
}

var simpleEscapes = map[byte]string{'\\': "\\", '\'': "'", '"': "\"", 'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v", '\n': ""}

// escape decodes the escape after a backslash: how many bytes it takes,
// and what it stands for.
func escape(s string) (int, string, string) {
	if r, ok := simpleEscapes[s[0]]; ok {
		return 1, r, ""
	}
	hexDigits := map[byte]int{'x': 2, 'u': 4, 'U': 8}
	switch {
	case s[0] >= '0' && s[0] <= '7':
		n, v := 0, 0
		for n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			v = v*8 + int(s[n]-'0')
			n++
		}
		return n, string(rune(v)), ""
	case hexDigits[s[0]] > 0:
		n := hexDigits[s[0]]
		if len(s) < 1+n {
			return 0, "", "a truncated escape"
		}
		var v rune
		for _, c := range []byte(s[1 : 1+n]) {
			d := strings.IndexByte("0123456789abcdef", c|0x20)
			if d < 0 {
				return 0, "", "a malformed escape"
			}
			v = v*16 + rune(d)
		}
		return 1 + n, string(v), ""
	case s[0] == 'N':
		return 0, "", `a \N{...} escape (a character by name) in a string`
	}
	return 1, "\\" + s[:1], "" // unknown escapes stay as written
}

// check applies the rules the package doc lists to the tokens.
func check(toks []token) string {
	tainted := map[string]bool{}
	for i, t := range toks {
		next := func(k int) token {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return token{kind: tBlockEnd}
		}
		switch {
		case t.kind == tString && strings.Contains(t.val, "__"):
			return fmt.Sprintf("a string holding %q", "__")
		case t.kind == tOp && t.val == "." && next(1).kind == tName:
			if n := next(1).val; Forbidden(n) || n == "format" || n == "format_map" {
				return fmt.Sprintf("attribute %q", n)
			}
		case t.kind == tOp && t.val == "|" && next(1).kind == tName && next(1).val == "attr":
			if next(2).val != "(" || next(3).kind != tString || next(4).val != ")" {
				return "the attr filter with an argument that is not a string literal"
			}
			if Forbidden(next(3).val) {
				return fmt.Sprintf("attribute %q (through attr)", next(3).val)
			}
		case t.kind == tOp && t.val == "[" && (i == 0 || toks[i-1].kind == tName || toks[i-1].kind == tString || toks[i-1].val == ")" || toks[i-1].val == "]"):
			if why := subscript(toks[i+1:], tainted); why != "" {
				return why
			}
		case t.kind == tBlockStart && t.val == "%" && next(1).val == "set" && next(2).kind == tName:
			if buildsString(toks[i+3:]) {
				tainted[next(2).val] = true
			}
		}
	}
	return ""
}

// subscript checks the index of a subscript, the tokens up to its
// matching "]".
func subscript(toks []token, tainted map[string]bool) string {
	depth := 0
	for j, t := range toks {
		switch {
		case t.kind == tOp && (t.val == "[" || t.val == "(" || t.val == "{"):
			depth++
		case t.kind == tOp && (t.val == ")" || t.val == "}"):
			depth--
		case t.kind == tOp && t.val == "]":
			if depth == 0 {
				if j == 1 && toks[0].kind == tString && Forbidden(toks[0].val) {
					return fmt.Sprintf("attribute %q (through a subscript)", toks[0].val)
				}
				return ""
			}
			depth--
		case t.kind == tOp && (t.val == "~" || t.val == "|" || t.val == "%"):
			return fmt.Sprintf("a subscript built at run time (%s)", t.val)
		case t.kind == tName && tainted[t.val] && (j == 0 || toks[j-1].val != "."):
			return fmt.Sprintf("a subscript by %q, which is built at run time", t.val)
		case t.kind == tBlockEnd:
			return ""
		}
	}
	return ""
}

// buildsString reports whether the expression of a {% set %} (its tokens
// up to the block's end) joins, formats or filters values into a string.
func buildsString(toks []token) bool {
	for _, t := range toks {
		switch {
		case t.kind == tBlockEnd:
			return false
		case t.kind == tOp && (t.val == "~" || t.val == "|" || t.val == "%" || t.val == "+"):
			return true
		}
	}
	return false
}

// ValidDigest reports whether s is spelt as Digest spells a digest:
// "sha256:" and 64 lowercase hex digits.
func ValidDigest(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}
