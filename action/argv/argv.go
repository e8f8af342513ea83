package main

import (
	"fmt"
	"strings"
)

// Split splits s into words as bash splits the words of an array
// assignment, a=( s ), without expanding or running anything: blanks
// (space, tab, newline) separate words; '…' is literal; "…" is literal but for \", \\, \$, \`
// and \newline; an unquoted backslash quotes the next character, and
// backslash-newline joins lines.
//
// Whatever a shell would expand or interpret is refused rather than
// passed on differently: $ and ` (unquoted or in "…"); the operators
// | & ; < > ( ); unquoted *, ? and [ (a shell matches them against the
// files where it runs); unquoted { and ~ (brace expansion, the home
// directory) and # at the start of a word (a comment); and an unclosed
// quote.
func Split(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	end := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			end()
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unclosed ' at byte %d", i)
			}
			inWord = true
			word.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			j, err := doubleQuoted(s, i+1, &word)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("a \\ ends the arguments")
			}
			i++
			if s[i] != '\n' { // backslash-newline joins lines
				inWord = true
				word.WriteByte(s[i])
			}
		case strings.IndexByte("$`|&;<>()", c) >= 0:
			return nil, fmt.Errorf("%q at byte %d means something to a shell, which is not run here; quote it with '…' or \\", c, i)
		case strings.IndexByte("*?[", c) >= 0:
			return nil, fmt.Errorf("unquoted %q at byte %d: a shell would match it against the files where it runs; quote a pattern ('docs/*') or name the paths", c, i)
		case c == '{' || c == '~' || c == '#' && !inWord:
			return nil, fmt.Errorf("unquoted %q at byte %d means something to a shell (brace expansion, the home directory, a comment), which is not run here; quote it with '…' or \\", c, i)
		default:
			inWord = true
			word.WriteByte(c)
		}
	}
	end()
	return words, nil
}

// doubleQuoted appends the "…" that starts at s[i] (after the opening
// quote) to word and returns the index of its closing quote.
func doubleQuoted(s string, i int, word *strings.Builder) (int, error) {
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i, nil
		case c == '$' || c == '`':
			return 0, fmt.Errorf("%q at byte %d: a shell would expand it inside \"…\"; quote it with '…' or \\", c, i)
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0:
			i++
			if s[i] != '\n' {
				word.WriteByte(s[i])
			}
		default:
			word.WriteByte(c)
		}
	}
	return 0, fmt.Errorf(`unclosed " in the arguments`)
}
