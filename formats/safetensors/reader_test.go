package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
)

// mk builds a safetensors file from a raw header and n data bytes
// (counting 0, 1, 2, ... so that sections can be told apart).
func mk(header string, n int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	for i := 0; i < n; i++ {
		b = append(b, byte(i))
	}
	return b
}

func t1(name, dtype, shape string, begin, end int) string {
	return fmt.Sprintf("%q:{\"dtype\":%q,\"shape\":%s,\"data_offsets\":[%d,%d]}", name, dtype, shape, begin, end)
}

type refusal struct {
	name   string
	file   []byte
	lim    formats.Limits
	kind   formats.Kind
	msg    string // substring of the message
	strict string // why we refuse what nlpodyssey/safetensors accepts; "" if it refuses too
}

var refusals = []refusal{
	{name: "shorter than 8 bytes", file: []byte{1, 0, 0}, kind: formats.KindMalformed, msg: "at least 8"},
	{name: "header length 0", file: mk("", 0), kind: formats.KindMalformed, msg: "header length is 0"},
	{name: "header past end", file: append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), kind: formats.KindMalformed, msg: "runs past the end"},
	{name: "header length near 2^64", file: append(binary.LittleEndian.AppendUint64(nil, ^uint64(0)), "{}"...), kind: formats.KindMalformed, msg: "runs past the end"},
	{name: "header over limit", file: mk(`{}      `, 0), lim: formats.Limits{MaxHeaderBytes: 7}, kind: formats.KindLimitExceeded, msg: "limit is MaxHeaderBytes=7",
		strict: "caller-configured limit (the default is MLX's 1e8 cap)"},
	{name: "invalid UTF-8", file: mk("{\"a\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), kind: formats.KindMalformed, msg: "not valid UTF-8", strict: "encoding/json replaces invalid UTF-8 with U+FFFD; Rust's reference refuses it"},
	{name: "leading whitespace", file: mk(` {}`, 0), kind: formats.KindMalformed, msg: "does not start with '{'", strict: "the reference refuses a header not starting with '{' (InvalidHeaderStart)"},
	{name: "not an object", file: mk(`[]`, 0), kind: formats.KindMalformed, msg: "does not start with '{'"},
	{name: "null header", file: mk(`null`, 0), kind: formats.KindMalformed, msg: "does not start with '{'", strict: "encoding/json decodes null into an empty map"},
	{name: "text after object", file: mk(`{}x`, 0), kind: formats.KindMalformed, msg: "after the header object"},
	{name: "NUL padding", file: mk("{}\x00\x00", 0), kind: formats.KindMalformed, msg: "after the header object"},
	{name: "second object", file: mk(`{}{}`, 0), kind: formats.KindMalformed, msg: "after the header object"},
	{name: "unterminated object", file: mk(`{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]}`, 1), kind: formats.KindMalformed, msg: "expected ','"},
	{name: "duplicate tensor", file: mk("{"+t1("a", "U8", "[1]", 0, 1)+","+t1("a", "U8", "[1]", 0, 1)+"}", 1), kind: formats.KindMalformed, msg: `duplicate key "a"`,
		strict: "encoding/json keeps the last duplicate key silently"},
	{name: "duplicate after unescaping", file: mk("{"+t1("a", "U8", "[1]", 0, 1)+`,"\u0061":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), kind: formats.KindMalformed, msg: `duplicate key "a"`,
		strict: "encoding/json keeps the last duplicate key silently"},
	{name: "duplicate field in tensor", file: mk(`{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), kind: formats.KindMalformed, msg: `duplicate key "dtype"`,
		strict: "encoding/json keeps the last duplicate key silently"},
	{name: "duplicate metadata key", file: mk(`{"__metadata__":{"k":"1","k":"2"}}`, 0), kind: formats.KindMalformed, msg: `duplicate key "k"`,
		strict: "encoding/json keeps the last duplicate key silently"},
	{name: "duplicate __metadata__", file: mk(`{"__metadata__":{},"__metadata__":{}}`, 0), kind: formats.KindMalformed, msg: `duplicate key "__metadata__"`,
		strict: "encoding/json keeps the last duplicate key silently"},
	{name: "missing field", file: mk(`{"a":{"dtype":"U8","shape":[1]}}`, 1), kind: formats.KindMalformed, msg: `missing field "data_offsets"`},
	{name: "unknown field", file: mk(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, 1), kind: formats.KindMalformed, msg: `unknown field "x"`},
	{name: "tensor not an object", file: mk(`{"a":[1]}`, 0), kind: formats.KindMalformed, msg: "expected a tensor object"},
	{name: "metadata null", file: mk(`{"__metadata__":null}`, 0), kind: formats.KindMalformed, msg: "an object of strings",
		strict: "encoding/json decodes null into a nil map; the reference reads it as no metadata; the issue asks for a flat string map"},
	{name: "metadata number", file: mk(`{"__metadata__":{"k":1}}`, 0), kind: formats.KindMalformed, msg: `value of "k" is not a string`},
	{name: "metadata nested", file: mk(`{"__metadata__":{"k":{"x":"y"}}}`, 0), kind: formats.KindMalformed, msg: `value of "k" is not a string`},
	{name: "tensor named __metadata__", file: mk(`{"__metadata__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), kind: formats.KindMalformed, msg: `value of "shape" is not a string`},
	{name: "negative dim", file: mk(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, 0), kind: formats.KindMalformed, msg: "negative number"},
	{name: "fractional dim", file: mk(`{"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}`, 1), kind: formats.KindMalformed, msg: "non-integer"},
	{name: "exponent offset", file: mk(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1e0]}}`, 1), kind: formats.KindMalformed, msg: "non-integer"},
	{name: "leading zero", file: mk(`{"a":{"dtype":"U8","shape":[01],"data_offsets":[0,1]}}`, 1), kind: formats.KindMalformed, msg: "leading zero"},
	{name: "string dim", file: mk(`{"a":{"dtype":"U8","shape":["1"],"data_offsets":[0,1]}}`, 1), kind: formats.KindMalformed, msg: "expected a non-negative integer"},
	{name: "offset above 2^53", file: mk(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[9007199254740993,9007199254740993]}}`, 0), kind: formats.KindMalformed, msg: "above 2^53"},
	{name: "offset 20 digits", file: mk(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,18446744073709551616]}}`, 0), kind: formats.KindMalformed, msg: "above 2^53"},
	{name: "dim above int32", file: mk(`{"a":{"dtype":"U8","shape":[2147483648,0],"data_offsets":[0,0]}}`, 0), kind: formats.KindLimitExceeded, msg: "limit is MaxDim=2147483647",
		strict: "MLX truncates dimensions to int32"},
	{name: "rank over limit", file: mk(`{"a":{"dtype":"U8","shape":[1,1,1],"data_offsets":[0,1]}}`, 1), lim: formats.Limits{MaxRank: 2}, kind: formats.KindLimitExceeded, msg: "MaxRank=2",
		strict: "caller-configured limit"},
	{name: "element count overflow", file: mk(`{"a":{"dtype":"U8","shape":[2147483647,2147483647,2147483647,0],"data_offsets":[0,0]}}`, 0), kind: formats.KindMalformed, msg: "overflows int64"},
	{name: "byte count overflow", file: mk(`{"a":{"dtype":"U64","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}`, 8), kind: formats.KindMalformed, msg: "overflows int64"},
	{name: "size mismatch", file: mk(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), kind: formats.KindMalformed, msg: "needs 8"},
	{name: "sub-byte not whole bytes", file: mk(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, 2), kind: formats.KindMalformed, msg: "not a whole number of bytes"},
	{name: "unknown dtype", file: mk(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, 16), kind: formats.KindMalformed, msg: `unknown dtype "F128"`},
	{name: "lowercase dtype", file: mk(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, 4), kind: formats.KindMalformed, msg: `unknown dtype "f32"`},
	{name: "end before begin", file: mk(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, 4), kind: formats.KindMalformed, msg: "end before they begin"},
	{name: "not starting at 0", file: mk(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), kind: formats.KindMalformed, msg: "must start at 0"},
	{name: "overlap", file: mk("{"+t1("a", "U16", "[2]", 0, 4)+","+t1("b", "U16", "[1]", 2, 4)+"}", 4), kind: formats.KindMalformed, msg: "overlaps"},
	{name: "alias", file: mk("{"+t1("a", "U16", "[2]", 0, 4)+","+t1("b", "U16", "[2]", 0, 4)+"}", 4), kind: formats.KindMalformed, msg: "overlaps"},
	{name: "empty tensor inside another", file: mk("{"+t1("a", "U16", "[2]", 0, 4)+","+t1("b", "U16", "[0]", 2, 2)+"}", 4), kind: formats.KindMalformed, msg: "overlaps"},
	{name: "hole", file: mk("{"+t1("a", "U8", "[1]", 0, 1)+","+t1("b", "U8", "[1]", 2, 3)+"}", 3), kind: formats.KindMalformed, msg: "hole of 1 bytes"},
	{name: "past end of file", file: mk(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, 3), kind: formats.KindMalformed, msg: "past the 3-byte data section"},
	{name: "trailing bytes", file: mk(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, 5), kind: formats.KindMalformed, msg: "1 trailing bytes"},
	{name: "data without tensors", file: mk(`{}`, 1), kind: formats.KindMalformed, msg: "1 trailing bytes"},
	{name: "three offsets", file: mk(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, 1), kind: formats.KindMalformed, msg: "two integers"},
	{name: "one offset", file: mk(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1]}}`, 1), kind: formats.KindMalformed, msg: "two integers"},
	{name: "too many tensors", file: mk("{"+t1("a", "U8", "[1]", 0, 1)+","+t1("b", "U8", "[1]", 1, 2)+"}", 2), lim: formats.Limits{MaxTensors: 1}, kind: formats.KindLimitExceeded, msg: "MaxTensors=1",
		strict: "caller-configured limit"},
	{name: "total bytes over limit", file: mk(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, 4), lim: formats.Limits{MaxTotalBytes: 3}, kind: formats.KindLimitExceeded, msg: "MaxTotalBytes=3",
		strict: "caller-configured limit"},
	{name: "name too long", file: mk("{"+t1(strings.Repeat("n", 9), "U8", "[1]", 0, 1)+"}", 1), lim: formats.Limits{MaxNameBytes: 8}, kind: formats.KindLimitExceeded, msg: "MaxNameBytes=8",
		strict: "caller-configured limit"},
	{name: "NUL in name", file: mk(`{"a\u0000b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), kind: formats.KindMalformed, msg: "NUL character",
		strict: "a NUL truncates names in C-string consumers, so two names can collide downstream"},
	{name: "lone surrogate", file: mk(`{"\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), kind: formats.KindMalformed, msg: "lone UTF-16 surrogate",
		strict: "encoding/json replaces lone surrogates with U+FFFD; serde_json refuses them"},
	{name: "control character in string", file: mk("{\"a\tb\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), kind: formats.KindMalformed, msg: "control character"},
	{name: "invalid escape", file: mk(`{"a\x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), kind: formats.KindMalformed, msg: `invalid escape`},
}

func TestRefusals(t *testing.T) {
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := safetensors.NewReader(bytes.NewReader(tc.file), int64(len(tc.file)), tc.lim)
			require.Error(t, err)
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
			assert.True(t, errors.Is(err, tc.kind))
			assert.Contains(t, err.Error(), tc.msg)
			var fe *formats.Error
			require.ErrorAs(t, err, &fe)
			assert.GreaterOrEqual(t, fe.Offset, int64(0), "every reader refusal names a byte offset")
			assert.Less(t, fe.Offset, int64(len(tc.file))+1)
		})
	}
}

type acceptance struct {
	name    string
	file    []byte
	tensors []formats.TensorInfo // Offset relative to the data section
	meta    map[string]string
}

var acceptances = []acceptance{
	{name: "empty", file: mk(`{}`, 0), tensors: []formats.TensorInfo{}},
	{name: "metadata only", file: mk(`{"__metadata__":{"format":"pt","k":""}}`, 0), tensors: []formats.TensorInfo{}, meta: map[string]string{"format": "pt", "k": ""}},
	{name: "key order independent of offsets",
		file: mk("{"+t1("b", "U8", "[2]", 2, 4)+","+t1("a", "U16", "[1]", 0, 2)+"}", 4),
		tensors: []formats.TensorInfo{
			{Name: "a", DType: formats.U16, Shape: []int64{1}, Offset: 0, Size: 2},
			{Name: "b", DType: formats.U8, Shape: []int64{2}, Offset: 2, Size: 2},
		}},
	{name: "zero-size tensors share offsets",
		file: mk("{"+t1("z2", "F32", "[0,3]", 2, 2)+","+t1("a", "U8", "[2]", 0, 2)+","+t1("z1", "U8", "[0]", 2, 2)+","+t1("z0", "I64", "[4,0]", 0, 0)+"}", 2),
		tensors: []formats.TensorInfo{
			{Name: "z0", DType: formats.I64, Shape: []int64{4, 0}, Offset: 0, Size: 0},
			{Name: "a", DType: formats.U8, Shape: []int64{2}, Offset: 0, Size: 2},
			{Name: "z1", DType: formats.U8, Shape: []int64{0}, Offset: 2, Size: 0},
			{Name: "z2", DType: formats.F32, Shape: []int64{0, 3}, Offset: 2, Size: 0},
		}},
	{name: "scalar", file: mk(`{"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}`, 8),
		tensors: []formats.TensorInfo{{Name: "s", DType: formats.F64, Shape: []int64{}, Offset: 0, Size: 8}}},
	{name: "whitespace everywhere and padding", file: mk(" {\n \"s\" : { \"dtype\" : \"U8\" ,\r\n\"shape\":[ 1 ],\t\"data_offsets\":[ 0 , 1 ] } }   "[1:], 1),
		tensors: []formats.TensorInfo{{Name: "s", DType: formats.U8, Shape: []int64{1}, Offset: 0, Size: 1}}},
	{name: "sub-byte whole bytes", file: mk(`{"q":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]}}`, 3),
		tensors: []formats.TensorInfo{{Name: "q", DType: formats.F4, Shape: []int64{2, 3}, Offset: 0, Size: 3}}},
	{name: "F6 four elements are three bytes", file: mk(`{"q":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[0,3]}}`, 3),
		tensors: []formats.TensorInfo{{Name: "q", DType: formats.F6_E2M3, Shape: []int64{4}, Offset: 0, Size: 3}}},
	{name: "escaped names", file: mk(`{"\u00e9\"\\\/\ud83d\ude00":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, 1),
		tensors: []formats.TensorInfo{{Name: "é\"\\/😀", DType: formats.BOOL, Shape: []int64{1}, Offset: 0, Size: 1}}},
	{name: "header at exactly the limit", file: mk(`{}      `, 0), tensors: []formats.TensorInfo{}},
}

func TestAcceptance(t *testing.T) {
	for _, tc := range acceptances {
		t.Run(tc.name, func(t *testing.T) {
			lim := formats.Limits{MaxHeaderBytes: int64(len(tc.file) - 8)}
			f, err := safetensors.NewReaderBytes(tc.file, lim)
			require.NoError(t, err)
			want := slices.Clone(tc.tensors)
			for i := range want {
				want[i].Offset += 8 + f.HeaderLen()
			}
			assert.Equal(t, want, f.Tensors())
			assert.Equal(t, tc.meta, f.Metadata())
			for _, ti := range want {
				got, ok := f.Tensor(ti.Name)
				require.True(t, ok)
				assert.Equal(t, ti, got)
				b, ok := f.Bytes(ti.Name)
				require.True(t, ok)
				assert.Equal(t, tc.file[ti.Offset:ti.Offset+ti.Size], b)
				sr, ok := f.Section(ti.Name)
				require.True(t, ok)
				all, err := io.ReadAll(sr)
				require.NoError(t, err)
				assert.Equal(t, b, all)
			}
		})
	}
}

func TestBytesZeroCopy(t *testing.T) {
	file := mk(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, 4)
	f, err := safetensors.NewReaderBytes(file, formats.Limits{})
	require.NoError(t, err)
	b, ok := f.Bytes("a")
	require.True(t, ok)
	assert.Same(t, &file[len(file)-4], &b[0], "Bytes must alias the caller's buffer")
	assert.Equal(t, 4, cap(b), "a tensor slice must not reach into its neighbour")

	g, err := safetensors.NewReader(bytes.NewReader(file), int64(len(file)), formats.Limits{})
	require.NoError(t, err)
	_, ok = g.Bytes("a")
	assert.False(t, ok, "Bytes needs the file in memory")
	_, ok = g.Tensor("nope")
	assert.False(t, ok)
}

// zeroReader is a file of the given size whose every byte is zero except
// a prefix, standing in for a huge file without memory behind it.
type zeroReader struct{ prefix []byte }

func (z zeroReader) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if off < int64(len(z.prefix)) {
		copy(p, z.prefix[off:])
	}
	return len(p), nil
}

func TestHugeHeaderRefusedBeforeAllocation(t *testing.T) {
	// A 1 GiB "file" declaring a 100,000,000-byte header: refused by the
	// limit, not by an allocation or a read of 100 MB.
	prefix := binary.LittleEndian.AppendUint64(nil, 100_000_000)
	allocs := testing.AllocsPerRun(10, func() {
		_, err := safetensors.NewReader(zeroReader{prefix}, 1<<30, formats.Limits{})
		require.Equal(t, formats.KindLimitExceeded, formats.KindOf(err))
		require.Contains(t, err.Error(), "header is 100000000 bytes; limit is MaxHeaderBytes=99999999")
	})
	assert.Less(t, allocs, 20.0)
}

func TestIOErrorKind(t *testing.T) {
	file := mk(`{}`, 0)
	_, err := safetensors.NewReader(bytes.NewReader(file), int64(len(file))+10, formats.Limits{})
	// The caller claimed a larger size than the reader holds: the header
	// length then fits, but reading past the end fails as I/O, or the
	// layout is refused; both are refusals, never acceptance.
	require.Error(t, err)
	_, err = safetensors.NewReader(failingReader{}, 64, formats.Limits{})
	assert.Equal(t, formats.KindIO, formats.KindOf(err))
}

type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("disk on fire") }
