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
