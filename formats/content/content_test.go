package content_test

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/content"
	"github.com/modelgate/modelgate/formats/onnx"
	"github.com/modelgate/modelgate/formats/safetensors"
)

// TestIdentify: content decides; a name only chooses the diagnosis or
// adds a refusal (code).
func TestIdentify(t *testing.T) {
	png := string(testPNG(t))
	st := []byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}")
	for _, tc := range []struct {
		name, file, data string
		role             content.Role
		kind             formats.Kind
		diagnose         bool
		format           formats.Format // when set, the format Identify names
	}{
		{name: "weights whatever the name", file: "notes.txt", data: string(st), role: content.Weights},
		{name: "unknown content named .safetensors is diagnosed", file: "m.safetensors", data: "\xff\xff\xff\xff\xff\xff\xff\xffjunk", role: content.Weights, diagnose: true},
		{name: "text", file: "README.md", data: "# model\n", role: content.Inert},
		{name: "empty", file: "x.bin", data: "", role: content.Inert},
		{name: "a tokenizer's name does not make unknown content inert", file: "tokenizer.model", data: "\x0a\x0b\xff\x00", kind: formats.KindUnknownFormat},
		{name: "a SentencePiece model whatever its name", file: "x.bin", data: "\x0a\x07\x0a\x03<s>\x18\x03\x12\x00", role: content.Inert},
		{name: "a SentencePiece piece with an unknown field is not one", file: "x.bin", data: "\x0a\x09\x0a\x03<s>\x18\x03\x20\x01\x12\x00", kind: formats.KindUnknownFormat},
		{name: "text with a zip end record behind it", file: "README.md", data: "# model\n" + "PK\x05\x06" + strings.Repeat("\x00", 18), kind: formats.KindMalformed},
		{name: "ONNX fields out of order are not text", file: "notes.txt", data: "\x3a\x04\x0a\x02\x0a\x00\x08\x07", kind: formats.KindUnsupported, format: formats.FormatONNX},
		{name: "ONNX that DetectBytes calls zlib", file: "notes.txt", data: "\x78\x9c\x01\x3a\x02\x0a\x00", kind: formats.KindUnsupported, format: formats.FormatONNX},
		{name: "protobuf with no graph is not ONNX", file: "notes.txt", data: "\x12\x03abc", role: content.Inert},
		{name: "an HDF5 superblock at 1024", file: "notes.txt", data: strings.Repeat("a", 1024) + "\x89HDF\r\n\x1a\n", kind: formats.KindUnsupported},
		{name: "a PNG", file: "x.bin", data: png, role: content.Inert, format: formats.FormatPNG},
		{name: "a PNG with bytes after IEND", file: "x.bin", data: png + "x", kind: formats.KindMalformed, format: formats.FormatPNG},
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
			if tc.format != "" {
				assert.Equal(t, tc.format, id.Format)
			}
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

// testPNG is a 1x1 PNG written by Go's image/png.
func testPNG(t *testing.T) []byte {
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))))
	return b.Bytes()
}

// safetensorsONNXPolyglot is a valid safetensors file (no tensors, one
// metadata string) whose bytes are also a protobuf ModelProto with a
// graph: the length's low byte 0x09 is a fixed64 field covering the rest
// of the length and '{'; '"' starts a length-delimited field the key's
// '_' (95) measures; ':' is the graph field (7), a space its length, and
// spaces pairs are varint fields; the value's first byte measures the
// rest of the file.
func safetensorsONNXPolyglot(t *testing.T) []byte {
	const n = 265 // header length: 0x09 is its low byte
	key := strings.Repeat("k", 79)
	h := `{"__metadata__":{"` + key + `": ` + strings.Repeat(" ", 32+10) + `"y`
	h += strings.Repeat("v", n-len(h)-3) + `"}}`
	require.Len(t, h, n)
	require.Equal(t, byte(':'), h[98])
	return append([]byte{n & 0xff, n >> 8, 0, 0, 0, 0, 0, 0}, h...)
}

// TestWeightsThatAreAlsoONNXRefused: a safetensors file that onnx.load
// reads as a model with a graph is refused as ONNX, not accepted.
func TestWeightsThatAreAlsoONNXRefused(t *testing.T) {
	b := safetensorsONNXPolyglot(t)
	st, err := safetensors.NewReader(bytes.NewReader(b), int64(len(b)), formats.Limits{})
	require.NoError(t, err, "it is valid safetensors")
	assert.Empty(t, st.Tensors())
	ok, err := onnx.Is(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.True(t, ok, "it is ONNX too")
	id, err := content.Identify(bytes.NewReader(b), int64(len(b)), "model.safetensors", formats.Limits{})
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%v", err)
	assert.Equal(t, formats.FormatONNX, id.Format)
}
