//go:build !modelgate_lean

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEscapeNamesTouchesOnlyNamesAndInvalidText: names are escaped as text
// output escapes them; other strings (a chat template, a message quoting
// a backslash) keep their bytes unless they are not UTF-8.
func TestEscapeNamesTouchesOnlyNamesAndInvalidText(t *testing.T) {
	type file struct {
		Name   string `json:"name"`
		Reason string `json:"reason"`
	}
	in := struct {
		Path     string            `json:"path"`
		Files    []*file           `json:"files"`
		Ignored  []string          `json:"ignored"`
		Metadata map[string]string `json:"metadata"`
		Any      any               `json:"any"`
	}{
		Path:     "a\\b\xff",
		Files:    []*file{{Name: "w\xff.npy", Reason: "bad \\x in \"w\xff.npy\""}, {Name: "w\\xff.npy", Reason: "line\nbreak"}},
		Ignored:  []string{"README\x1b.md (excluded)"},
		Metadata: map[string]string{"tokenizer.chat_template": "{{ '\\n' }}\n", "k\xfe": "v\xfd"},
		Any:      file{Name: "\u202e"},
	}
	b, err := marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"path": "a\\\\b\\xff",
		"files": [{"name": "w\\xff.npy", "reason": "bad \\\\x in \"w\\xff.npy\""}, {"name": "w\\\\xff.npy", "reason": "line\nbreak"}],
		"ignored": ["README\\x1b.md (excluded)"],
		"metadata": {"tokenizer.chat_template": "{{ '\\n' }}\n", "k\\xfe": "v\\xfd"},
		"any": {"name": "\\u202e", "reason": ""}
	}`, string(b))
	assert.Equal(t, "w\xff.npy", in.Files[0].Name, "the value marshalled is not changed")
}
