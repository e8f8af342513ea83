package content_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/content"
)

// TestIdentify: content decides; a name only chooses the diagnosis or
// adds a refusal (code).
func TestIdentify(t *testing.T) {
	st := []byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}")
	for _, tc := range []struct {
		name, file, data string
		role             content.Role
		kind             formats.Kind
		diagnose         bool
	}{
		{name: "weights whatever the name", file: "notes.txt", data: string(st), role: content.Weights},
		{name: "unknown content named .safetensors is diagnosed", file: "m.safetensors", data: "\xff\xff\xff\xff\xff\xff\xff\xffjunk", role: content.Weights, diagnose: true},
		{name: "text", file: "README.md", data: "# model\n", role: content.Inert},
		{name: "empty", file: "x.bin", data: "", role: content.Inert},
		{name: "tokenizer by name", file: "tokenizer.model", data: "\x0a\x0b\xff\x00", role: content.Inert},
		{name: "python", file: "modeling_x.py", data: "# coding=utf-8\n", role: content.Code},
		{name: "auto_map", file: "config.json", data: `{"auto_map": {}}`, role: content.Code},
		{name: "escaped auto_map", file: "config.json", data: `{"auto\u005fmap": {}}`, role: content.Code},
		{name: "plain config", file: "config.json", data: `{"hidden_size": 8}`, role: content.Inert},
		{name: "index", file: "model.safetensors.index.json", data: `{"weight_map": {}}`, role: content.Index},
		{name: "pickle under any name", file: "README.md", data: "\x80\x04N.", kind: formats.KindPickle},
		{name: "unknown binary", file: "blob.bin", data: "\x01\x02\x00\xff", kind: formats.KindUnknownFormat},
		{name: "Git LFS pointer", file: "model.safetensors", data: "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n", kind: formats.KindUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := content.Identify(bytes.NewReader([]byte(tc.data)), int64(len(tc.data)), tc.file, formats.Limits{})
			if tc.kind != "" {
				assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tc.role, id.Role)
			assert.Equal(t, tc.diagnose, id.Diagnose)
		})
	}
}

// TestExcusable: an exclusion may excuse inert files, unknown content and
// plain archives, never weights, code, pickles or other model formats.
func TestExcusable(t *testing.T) {
	for _, tc := range []struct {
		kind   formats.Kind
		format formats.Format
		ok     bool
	}{
		{formats.KindUnknownFormat, formats.FormatUnknown, true},
		{formats.KindUnsupported, formats.FormatGzip, true},
		{formats.KindUnsupported, formats.FormatZip, true},
		{formats.KindUnsupported, formats.FormatGGUF, false},
		{formats.KindUnsupported, formats.FormatONNX, false},
		{formats.KindPickle, formats.FormatPickle, false},
		{formats.KindCode, formats.FormatUnknown, false},
		{formats.KindMalformed, formats.FormatSafetensors, false},
	} {
		assert.Equal(t, tc.ok, content.ExcusableRefusal(tc.kind, tc.format), "%s %s", tc.kind, tc.format)
	}
	assert.True(t, content.Excusable(content.Identity{Role: content.Inert}, nil))
	assert.False(t, content.Excusable(content.Identity{Role: content.Weights}, nil))
}
