package safetext

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"model.safetensors":       "model.safetensors",
		"données/é.npy":           "données/é.npy",
		"evil\x1b[2K\raccepted":   `evil\x1b[2K\x0daccepted`,
		"row\nfake":               `row\x0afake`,
		"w\xff.npy":               `w\xff.npy`,
		"w\xfe.npy":               `w\xfe.npy`,
		"\u202egnp.exe":           `\u202egnp.exe`,
		"csi\u009b31m":            `csi\u009b31m`,
		`a\b`:                     `a\\b`,
		`w\xff.npy` + "":          `w\\xff.npy`,
		"tab\tand\x7fdel\u2066is": `tab\x09and\x7fdel\u2066is`,
	} {
		assert.Equal(t, want, Escape(in), "%q", in)
	}
	assert.NotEqual(t, Escape("w\xff.npy"), Escape(`w\xff.npy`), "distinct names stay distinct")
}

func TestUnescapeInvertsEscape(t *testing.T) {
	for _, s := range escapeSeeds {
		got, err := Unescape(Escape(s))
		assert.NoError(t, err, "%q", s)
		assert.Equal(t, s, got, "%q", s)
	}
}

// TestUnescapeRefusesWhatEscapeDoesNotWrite: one name, one spelling.
func TestUnescapeRefusesWhatEscapeDoesNotWrite(t *testing.T) {
	for _, e := range []string{
		`a\`,        // a lone backslash at the end
		`a\q`,       // no such escape
		`\x4`,       // short
		`\xFF`,      // upper-case hex
		`\x41`,      // "A", which Escape leaves as it is
		`\u0041`,    // likewise
		`\xc3\xa9`,  // é, valid UTF-8, which Escape leaves as it is
		`\ud800`,    // a surrogate, no rune
		`\x+1`,      // a sign
		"row\nfake", // a control Escape would have escaped
		"w\xff.npy", // bytes that are not UTF-8
		"\u202egnp", // a bidi mark Escape would have escaped
		`\u009`,     // short
		`\u202E`,    // upper-case hex
		`\x0g`,      // not hex
	} {
		_, err := Unescape(e)
		assert.ErrorIs(t, err, ErrNotEscaped, "%q", e)
	}
}

var escapeSeeds = []string{
	"", "model.safetensors", "données/é.npy", "evil\x1b[2K\raccepted", "w\xff.npy", "\u202egnp.exe",
	"csi\u009b31m", `a\b`, `w\xff.npy`, `\\`, `\`, "\xc3", "\xc3\xa9", "tab\tand\x7fdel\u2066is", "\xed\xa0\x80",
}

// FuzzUnescape: Unescape(Escape(s)) is s, and whatever Unescape takes,
// Escape writes back unchanged.
func FuzzUnescape(f *testing.F) {
	for _, s := range escapeSeeds {
		f.Add(s)
		f.Add(Escape(s))
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Unescape(Escape(s))
		if err != nil || got != s {
			t.Fatalf("Unescape(Escape(%q)) = %q, %v", s, got, err)
		}
		if u, err := Unescape(s); err == nil && Escape(u) != s {
			t.Fatalf("Unescape(%q) = %q, which Escape writes as %q", s, u, Escape(u))
		}
	})
}
