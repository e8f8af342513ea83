package safetensors_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
)

func TestWriteReferenceBytes(t *testing.T) {
	// The reference crate's test_serialization: attn.0, F32 [1,2,3].
	var data []byte
	for _, f := range []uint32{0, 0x3f800000, 0x40000000, 0x40400000, 0x40800000, 0x40a00000} {
		data = append(data, byte(f), byte(f>>8), byte(f>>16), byte(f>>24))
	}
	var buf bytes.Buffer
	err := safetensors.Write(&buf, []safetensors.Tensor{{Name: "attn.0", DType: formats.F32, Shape: []int64{1, 2, 3}, Data: bytes.NewReader(data)}}, nil)
	require.NoError(t, err)
	want := append([]byte{64, 0, 0, 0, 0, 0, 0, 0}, `{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`...)
	want = append(want, data...)
	assert.Equal(t, want, buf.Bytes())

	buf.Reset()
	require.NoError(t, safetensors.Write(&buf, nil, map[string]string{"framework": "pt"}))
	assert.Equal(t, append([]byte{40, 0, 0, 0, 0, 0, 0, 0}, `{"__metadata__":{"framework":"pt"}}     `...), buf.Bytes())
}

func TestWriteOrderAndAlignment(t *testing.T) {
	var buf bytes.Buffer
	err := safetensors.Write(&buf, []safetensors.Tensor{
		{Name: "b", DType: formats.U8, Shape: []int64{3}, Data: bytes.NewReader([]byte{1, 2, 3})},
		{Name: "a", DType: formats.U8, Shape: []int64{1}, Data: bytes.NewReader([]byte{9})},
		{Name: "w", DType: formats.F64, Shape: []int64{}, Data: bytes.NewReader(make([]byte, 8))},
		{Name: "e", DType: formats.F32, Shape: []int64{0}},
	}, map[string]string{"z": "\x01\"\\", "a": "é"})
	require.NoError(t, err)
	f, err := safetensors.NewReaderBytes(buf.Bytes(), formats.Limits{})
	require.NoError(t, err)
	assert.Zero(t, f.HeaderLen()%8)
	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	assert.Equal(t, []string{"w", "e", "a", "b"}, names, "descending dtype, then name")
	assert.Equal(t, map[string]string{"z": "\x01\"\\", "a": "é"}, f.Metadata())
	b, _ := f.Bytes("b")
	assert.Equal(t, []byte{1, 2, 3}, b)
}

func TestWriteRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   []safetensors.Tensor
		meta map[string]string
		msg  string
	}{
		{"short data", []safetensors.Tensor{{Name: "a", DType: formats.U16, Shape: []int64{2}, Data: bytes.NewReader([]byte{1})}}, nil, "data is 1 bytes; shape needs 4"},
		{"long data", []safetensors.Tensor{{Name: "a", DType: formats.U8, Shape: []int64{1}, Data: bytes.NewReader([]byte{1, 2})}}, nil, "longer than"},
		{"duplicate", []safetensors.Tensor{{Name: "a", DType: formats.U8, Shape: []int64{0}}, {Name: "a", DType: formats.U8, Shape: []int64{0}}}, nil, "cannot write tensor name"},
		{"reserved", []safetensors.Tensor{{Name: "__metadata__", DType: formats.U8, Shape: []int64{0}}}, nil, "cannot write tensor name"},
		{"NUL name", []safetensors.Tensor{{Name: "a\x00", DType: formats.U8, Shape: []int64{0}}}, nil, "cannot write tensor name"},
		{"invalid dtype", []safetensors.Tensor{{Name: "a", Shape: []int64{0}}}, nil, "invalid dtype"},
		{"sub-byte", []safetensors.Tensor{{Name: "a", DType: formats.F4, Shape: []int64{1}}}, nil, "not a whole number of bytes"},
		{"bad metadata key", nil, map[string]string{"\xff": ""}, "cannot write metadata key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := safetensors.Write(io.Discard, tc.ts, tc.meta)
			require.Error(t, err)
			assert.Equal(t, formats.KindMalformed, formats.KindOf(err))
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

// rewrite writes f's tensors and metadata canonically.
func rewrite(t testing.TB, f *safetensors.File) []byte {
	var ts []safetensors.Tensor
	for _, ti := range f.Tensors() {
		sr, _ := f.Section(ti.Name)
		ts = append(ts, safetensors.Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: sr})
	}
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, ts, f.Metadata()))
	return buf.Bytes()
}

// checkRoundTrip asserts that parse -> write -> parse keeps every tensor's
// name, dtype, shape and bytes and the metadata, and that a second write is
// byte-identical (the writer's output is a fixed point).
func checkRoundTrip(t testing.TB, file []byte, f *safetensors.File) {
	out := rewrite(t, f)
	g, err := safetensors.NewReaderBytes(out, formats.Limits{MaxTensors: int64(len(f.Tensors()) + 1)})
	require.NoError(t, err)
	require.Equal(t, len(f.Tensors()), len(g.Tensors()))
	if f.Metadata() == nil {
		require.Nil(t, g.Metadata())
	} else {
		require.Equal(t, f.Metadata(), g.Metadata())
	}
	for _, ti := range f.Tensors() {
		gi, ok := g.Tensor(ti.Name)
		require.True(t, ok)
		require.Equal(t, ti.DType, gi.DType)
		require.Equal(t, ti.Shape, gi.Shape)
		gb, _ := g.Bytes(ti.Name)
		require.Equal(t, file[ti.Offset:ti.Offset+ti.Size], gb)
	}
	require.Equal(t, out, rewrite(t, g))
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range acceptances {
		f, err := safetensors.NewReaderBytes(tc.file, formats.Limits{})
		require.NoError(t, err)
		checkRoundTrip(t, tc.file, f)
	}
}
