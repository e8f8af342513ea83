package formats_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
)

func TestErrorIsAndAs(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	err := fmt.Errorf("opening: %w", formats.Errorf(formats.KindMalformed, 42, "bad %s: %w", "thing", cause).WithField("shape"))
	assert.True(t, errors.Is(err, formats.KindMalformed))
	assert.False(t, errors.Is(err, formats.KindPickle))
	assert.True(t, errors.Is(err, io.ErrUnexpectedEOF), "the cause stays reachable")
	var fe *formats.Error
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, int64(42), fe.Offset)
	assert.Equal(t, "shape: bad thing: unexpected EOF (at byte 42)", fe.Error())
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err))

	p := formats.WithPath(err, "m.npz")
	assert.Equal(t, "m.npz: shape: bad thing: unexpected EOF (at byte 42)", p.Error())
	assert.Equal(t, "dir/m.npz:m.npz: shape: bad thing: unexpected EOF (at byte 42)", formats.WithPath(p, "dir/m.npz").Error())
	assert.Equal(t, "", fe.Path, "WithPath copies; the original is unchanged")
	assert.Equal(t, cause, formats.WithPath(cause, "x"), "other errors pass through")
}

func TestKindOf(t *testing.T) {
	assert.Equal(t, formats.Kind(""), formats.KindOf(nil))
	assert.Equal(t, formats.KindIO, formats.KindOf(errors.New("plain")))
	assert.Equal(t, formats.KindIO, formats.KindOf(formats.IOError(0, io.EOF)))
	assert.Len(t, formats.Kinds, 13)
	for _, k := range formats.Kinds {
		assert.Equal(t, string(k), k.Error())
	}
	assert.Equal(t, "no offset", formats.Errorf(formats.KindIO, formats.NoOffset, "no offset").Error())
}

func TestDType(t *testing.T) {
	all := formats.AllDTypes()
	require.Len(t, all, 22)
	want := map[string]int64{
		"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
		"F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
		"I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
	}
	for _, d := range all {
		assert.Equal(t, want[d.String()], d.Bits(), d.String())
		p, ok := formats.ParseDType(d.String())
		assert.True(t, ok)
		assert.Equal(t, d, p)
		text, err := d.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, d.String(), string(text))
	}
	for _, s := range []string{"", "f32", "F128", "INVALID", "bool"} {
		_, ok := formats.ParseDType(s)
		assert.False(t, ok, s)
	}
	assert.False(t, formats.InvalidDType.Valid())
	assert.Equal(t, int64(0), formats.InvalidDType.Bits())
	_, err := formats.InvalidDType.MarshalText()
	assert.Error(t, err)
	assert.Less(t, formats.F32, formats.F64, "enum order is the reference writer's sort order")
}

func TestDataSize(t *testing.T) {
	lim := formats.DefaultLimits()
	for _, tc := range []struct {
		d     formats.DType
		shape []int64
		want  int64
		kind  formats.Kind
	}{
		{formats.F32, []int64{2, 3}, 24, ""},
		{formats.F32, nil, 4, ""},
		{formats.F4, []int64{3, 2}, 3, ""},
		{formats.F6_E3M2, []int64{4}, 3, ""},
		{formats.F4, []int64{3}, 0, formats.KindMalformed},
		{formats.U8, []int64{-1}, 0, formats.KindMalformed},
		{formats.U8, []int64{math.MaxInt32 + 1}, 0, formats.KindLimitExceeded},
		{formats.U8, make([]int64, 33), 0, formats.KindLimitExceeded},
		{formats.U64, []int64{math.MaxInt32, math.MaxInt32, 4}, 0, formats.KindMalformed},
		{formats.U8, []int64{math.MaxInt32, math.MaxInt32, math.MaxInt32}, 0, formats.KindMalformed},
		{formats.InvalidDType, []int64{1}, 0, formats.KindMalformed},
	} {
		got, err := formats.DataSize(tc.d, tc.shape, lim, 7)
		if tc.kind == "" {
			require.Nil(t, err)
			assert.Equal(t, tc.want, got)
		} else {
			require.NotNil(t, err, "%v %v", tc.d, tc.shape)
			assert.Equal(t, tc.kind, err.Kind)
			assert.Equal(t, int64(7), err.Offset)
		}
	}
	_, ok := formats.MulInt64(math.MaxInt64, 2)
	assert.False(t, ok)
	_, ok = formats.AddInt64(math.MaxInt64, 1)
	assert.False(t, ok)
	v, ok := formats.AddInt64(2, 3)
	assert.True(t, ok)
	assert.Equal(t, int64(5), v)
}

func TestLimits(t *testing.T) {
	d := formats.DefaultLimits()
	assert.Equal(t, int64(99_999_999), d.MaxHeaderBytes)
	assert.Equal(t, int64(math.MaxInt32), d.MaxDim)
	l := formats.Limits{MaxTensors: 5}.WithDefaults()
	assert.Equal(t, int64(5), l.MaxTensors)
	assert.Equal(t, d.MaxRank, l.MaxRank)
	e := formats.Exceeded(3, "rank", 40, "MaxRank", 32)
	assert.Equal(t, "rank is 40; limit is MaxRank=32 (at byte 3)", e.Error())
}

func TestDetect(t *testing.T) {
	st := append([]byte{2, 0, 0, 0, 0, 0, 0, 0}, "{}"...)
	for _, tc := range []struct {
		name string
		b    []byte
		want formats.Format
	}{
		{"safetensors", st, formats.FormatSafetensors},
		{"safetensors with lying length", append([]byte{0xe8, 3, 0, 0, 0, 0, 0, 0}, `{"a":1}`...), formats.FormatSafetensors},
		{"npy", []byte("\x93NUMPY\x01\x00"), formats.FormatNpy},
		{"zip", []byte("PK\x03\x04rest"), formats.FormatZip},
		{"empty zip", []byte("PK\x05\x06" + string(make([]byte, 18))), formats.FormatZip},
		{"pickle protocol 2", []byte("\x80\x02}q\x00."), formats.FormatPickle},
		{"pickle protocol 5", []byte("\x80\x05\x95"), formats.FormatPickle},
		{"empty", nil, formats.FormatUnknown},
		{"text", []byte("hello, world"), formats.FormatUnknown},
		{"length without brace", append([]byte{2, 0, 0, 0, 0, 0, 0, 0}, "[]"...), formats.FormatUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := formats.Detect(bytes.NewReader(tc.b), int64(len(tc.b)))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := formats.Detect(errReader{}, 100)
	assert.Equal(t, formats.KindIO, formats.KindOf(err))
}

type errReader struct{}

func (errReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("broken") }

func ExampleKindOf() {
	err := fmt.Errorf("loading: %w", formats.Errorf(formats.KindPickle, 0, "file is a pickle"))
	fmt.Println(formats.KindOf(err), errors.Is(err, formats.KindPickle))
	// Output: pickle true
}
