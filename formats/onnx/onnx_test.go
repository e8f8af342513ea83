package onnx_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelgate/modelgate/formats/onnx"
)

func is(t testing.TB, b []byte) bool {
	ok, err := onnx.Is(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return ok
}

// written are onnx.helper's model, in field-number order and shuffled
// (testdata/gen_content.py).
func written(t testing.TB) [][]byte {
	var out [][]byte
	for _, name := range []string{"ordered.onnx", "shuffled.onnx"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "content", "onnx", name))
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

// TestONNXWhateverTheFieldOrder: the models onnx wrote are ONNX in any
// field order, with unknown fields and groups; content that is not one
// protobuf message, or has no graph, is not.
func TestONNXWhateverTheFieldOrder(t *testing.T) {
	for _, b := range written(t) {
		assert.True(t, is(t, b))
		assert.False(t, is(t, b[:len(b)-1]))
	}
	graph := protowire.AppendBytes(protowire.AppendTag(nil, 7, protowire.BytesType), protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), nil))
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 1)
	group := protowire.AppendTag(protowire.AppendTag(nil, 50, protowire.StartGroupType), 50, protowire.EndGroupType)
	assert.True(t, is(t, graph))
	assert.True(t, is(t, append(bytes.Clone(unknown), graph...)), "an unknown field first")
	assert.True(t, is(t, append(bytes.Clone(group), graph...)), "a group first")
	for name, b := range map[string][]byte{
		"no graph":                unknown,
		"a graph that is varint":  protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.VarintType), 1),
		"a graph not protobuf":    protowire.AppendBytes(protowire.AppendTag(nil, 7, protowire.BytesType), []byte{0xff}),
		"an unclosed group":       append(protowire.AppendTag(nil, 50, protowire.StartGroupType), graph...),
		"text":                    []byte("# README\nmodel card\n"),
		"field number 0":          append([]byte{0x02, 0x00}, graph...),
		"wire type 7":             append([]byte{0x0f}, graph...),
		"a length past the end":   []byte{0x3a, 0x05, 0x0a, 0x00},
		"an end-group at the top": protowire.AppendTag(bytes.Clone(graph), 50, protowire.EndGroupType),
	} {
		assert.False(t, is(t, b), name)
	}
}

// FuzzIs checks, for any input: no panic, and content Is calls ONNX is a
// sequence of fields protowire reads to the end.
func FuzzIs(f *testing.F) {
	for _, b := range written(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !is(t, b) {
			return
		}
		for rest := b; len(rest) > 0; {
			_, _, n := protowire.ConsumeField(rest)
			require.Greater(t, n, 0)
			rest = rest[n:]
		}
	})
}
