package sentencepiece_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelgate/modelgate/formats/sentencepiece"
)

// trained are the models sentencepiece's trainer wrote
// (testdata/gen_content.py).
func trained(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, name := range []string{"spm.model", "source.spm", "tokenizer.model"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "content", "spm", name))
		require.NoError(t, err)
		out[name] = b
	}
	return out
}

func is(t *testing.T, b []byte) bool {
	ok, err := sentencepiece.Is(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return ok
}

// piece is one SentencePiece message: piece, score, type.
func piece(s string, typ uint64) []byte {
	var p []byte
	p = protowire.AppendTag(p, 1, protowire.BytesType)
	p = protowire.AppendString(p, s)
	p = protowire.AppendTag(p, 2, protowire.Fixed32Type)
	p = protowire.AppendFixed32(p, 0)
	p = protowire.AppendTag(p, 3, protowire.VarintType)
	return protowire.AppendVarint(p, typ)
}

func field(num protowire.Number, payload []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, payload)
}

// TestTrainedModelsAreSentencePiece: every model the trainer wrote is
// one, and none is once cut or extended.
func TestTrainedModelsAreSentencePiece(t *testing.T) {
	for name, b := range trained(t) {
		assert.True(t, is(t, b), name)
		assert.False(t, is(t, b[:len(b)-1]), "%s cut by a byte", name)
		assert.False(t, is(t, append(bytes.Clone(b), 0)), "%s with a byte after it", name)
	}
}

// TestStrictModelProto: the rules the package doc lists, each refused.
func TestStrictModelProto(t *testing.T) {
	ok := append(field(1, piece("<unk>", 2)), field(2, nil)...)
	require.True(t, is(t, ok))
	for name, b := range map[string][]byte{
		"no pieces":                   field(2, nil),
		"an unknown top-level field":  append(bytes.Clone(ok), field(6, nil)...),
		"an extension field":          append(bytes.Clone(ok), field(200, nil)...),
		"trainer_spec twice":          append(bytes.Clone(ok), field(2, nil)...),
		"trainer_spec not a message":  append(field(1, piece("a", 1)), field(2, []byte{0xff})...),
		"a piece with no string":      field(1, nil),
		"a piece type out of range":   field(1, piece("a", 7)),
		"a piece that is not UTF-8":   field(1, piece("\xff", 1)),
		"a piece field of wrong type": field(1, protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1)),
		"a varint pieces field":       protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1),
		"empty":                       nil,
	} {
		assert.False(t, is(t, b), name)
	}
}

// FuzzIs checks, for any input: no panic, and a model Is accepts stays
// one under protowire's own reading (every field well-formed to the end).
func FuzzIs(f *testing.F) {
	for _, b := range trained(f) {
		f.Add(b)
	}
	f.Add(field(1, piece("<unk>", 2)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !sentencepiece.IsBytes(b) {
			return
		}
		for rest := b; len(rest) > 0; {
			_, _, n := protowire.ConsumeField(rest)
			require.Greater(t, n, 0)
			rest = rest[n:]
		}
	})
}
