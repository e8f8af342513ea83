package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var splitCases = []struct {
	name  string
	in    string
	words []string // nil: refused
}{
	{"the Action's documented example", `--policy policy.yaml --exclude 'docs/*' --exclude '*.png' .`, []string{"--policy", "policy.yaml", "--exclude", "docs/*", "--exclude", "*.png", "."}},
	{"the verify example", `--policy policy.yaml --profile mlx models/llama`, []string{"--policy", "policy.yaml", "--profile", "mlx", "models/llama"}},
	{"blanks of every kind", " a\tb\n\nc  ", []string{"a", "b", "c"}},
	{"nothing", "", []string{}},
	{"an empty quoted word", `'' ""`, []string{"", ""}},
	{"double quotes keep spaces", `"my model/dir"`, []string{"my model/dir"}},
	{"quotes join a word", `--exclude=docs/'*'"x y"z`, []string{"--exclude=docs/*x yz"}},
	{"a backslash quotes the next byte", `my\ model \*.png \'`, []string{"my model", "*.png", "'"}},
	{"backslash-newline joins lines", "--exclude \\\n'*.png' a\\\nb", []string{"--exclude", "*.png", "ab"}},
	{"escapes inside double quotes", `"a\"b\\c\$d\` + "`" + `e\nf"`, []string{"a\"b\\c$d`e\\nf"}},
	{"single quotes keep backslashes and dollars", `'a\b$c'`, []string{"a\\b$c"}},
	{"a # inside a word is literal", `a#b`, []string{"a#b"}},
	{"unicode and a quoted ~", `données/é.npy '~/m'`, []string{"données/é.npy", "~/m"}},

	{"a variable", `--policy $HOME/p.yaml`, nil},
	{"a variable in double quotes", `"$HOME"`, nil},
	{"command substitution", "`id`", nil},
	{"command substitution in double quotes", "\"`id`\"", nil},
	{"$( )", `$(id)`, nil},
	{"a command list", `. ; id`, nil},
	{"a pipe", `. | id`, nil},
	{"a background job", `. & id`, nil},
	{"redirection", `. > /tmp/x`, nil},
	{"a subshell", `(id)`, nil},
	{"an unquoted glob", `--exclude docs/*`, nil},
	{"an unquoted ?", `a?`, nil},
	{"an unquoted bracket", `[ab]`, nil},
	{"brace expansion", `a{b,c}`, nil},
	{"the home directory", `~/model`, nil},
	{"a comment", `. #comment`, nil},
	{"an unclosed single quote", `'docs/*`, nil},
	{"an unclosed double quote", `"docs/*`, nil},
	{"a trailing backslash", `a\`, nil},
}

// TestSplit: the Action's args are split as a shell splits them, and what
// a shell would expand or run is refused (issue 22, finding 6).
func TestSplit(t *testing.T) {
	for _, tc := range splitCases {
		t.Run(tc.name, func(t *testing.T) {
			words, err := Split(tc.in)
			if tc.words == nil {
				assert.Error(t, err, "%q", words)
				return
			}
			require.NoError(t, err)
			if len(tc.words) == 0 {
				assert.Empty(t, words)
			} else {
				assert.Equal(t, tc.words, words)
			}
		})
	}
}

// TestSplitAgreesWithBash: every accepted case splits as bash splits the
// same text into an array's words (bash is the Action's shell).
func TestSplitAgreesWithBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	for _, tc := range splitCases {
		if tc.words == nil {
			continue // never handed to a shell: it could run something
		}
		t.Run(tc.name, func(t *testing.T) {
			// Inside an array's ( ), newlines separate words, as in Split.
			cmd := exec.Command(bash, "--norc", "--noprofile", "-c", "a=("+tc.in+"\n)\nfor w in \"${a[@]}\"; do printf '%s\\0' \"$w\"; done", "bash")
			cmd.Dir = t.TempDir() // no file to match a stray pattern
			out, err := cmd.Output()
			require.NoError(t, err)
			var bashWords []string
			for _, w := range bytes.Split(out, []byte{0}) {
				bashWords = append(bashWords, string(w))
			}
			bashWords = bashWords[:len(bashWords)-1] // after the last NUL
			words, err := Split(tc.in)
			require.NoError(t, err)
			assert.Equal(t, strings.Join(bashWords, "\x00"), strings.Join(words, "\x00"))
			assert.Len(t, words, len(bashWords))
		})
	}
}

// FuzzSplit: Split never panics, and the words it returns, quoted with
// '…', split back into the same words.
func FuzzSplit(f *testing.F) {
	for _, tc := range splitCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := Split(s)
		if err != nil {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		again, err := Split(strings.Join(quoted, " "))
		require.NoError(t, err)
		assert.Equal(t, len(words), len(again))
		assert.Equal(t, strings.Join(words, "\x00"), strings.Join(again, "\x00"))
	})
}
