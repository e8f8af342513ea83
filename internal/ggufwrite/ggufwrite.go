// Package ggufwrite writes GGUF files from the spec (ggml docs/gguf.md),
// valid ones and ones that break each rule, for tests: it is written from
// the spec independently of formats/gguf's reader.
package ggufwrite

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
)

// KV is one metadata pair to write; Elem is an array's element type.
type KV struct {
	Key       string
	VT, Elem  gguf.ValueType
	Val       any
	RawLength uint64 // if non-zero, the string or array length written instead
}

// Tensor is one tensor to write; Offset -1 places it after the data of
// the tensors before it, at the next multiple of the alignment.
type Tensor struct {
	Name   string
	Dims   []uint64
	Type   gguf.Type
	Size   int64
	Offset int64
	Data   []byte // if set, the tensor's bytes; otherwise 0, 1, 2, … (mod 256)
}

// File describes a GGUF file, written from the spec (ggml docs/gguf.md),
// including files that break it.
type File struct {
	Version  uint32
	NTensors uint64 // if non-zero, written instead of len(tensors)
	NKV      uint64 // likewise
	Align    int64  // the alignment used for layout (general.alignment is a kv)
	KVs      []KV
	Tensors  []Tensor
	Trailer  []byte
	Pad      byte // padding byte (0 normally)
}

// LE encodes v little-endian.
func LE(v any) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

func str(s string, n uint64) []byte {
	if n == 0 {
		n = uint64(len(s))
	}
	return append(LE(n), s...)
}

func value(vt gguf.ValueType, v any) []byte {
	switch vt {
	case gguf.String:
		return str(v.(string), 0)
	case gguf.Bool:
		return []byte{v.(byte)}
	}
	return LE(v)
}

// Build returns the file's bytes.
func (s File) Build() []byte {
	head, _ := s.Header()
	b := bytes.NewBuffer(head)
	start := int64(b.Len())
	align := cmpOr(s.Align, 32)
	// Data in offset order, whatever order the infos list the tensors in.
	byOffset := slices.SortedStableFunc(slices.Values(s.Tensors), func(a, b Tensor) int { return cmp.Compare(a.Offset, b.Offset) })
	for _, t := range byOffset {
		for int64(b.Len()) < start+t.Offset {
			b.WriteByte(0)
		}
		if t.Data != nil {
			b.Write(t.Data)
			continue
		}
		for i := int64(0); i < t.Size; i++ {
			b.WriteByte(byte(i))
		}
	}
	for (int64(b.Len())-start)%align != 0 && len(s.Tensors) > 0 {
		b.WriteByte(0)
	}
	b.Write(s.Trailer)
	return b.Bytes()
}

// Header returns the bytes up to the start of the data section, and the
// size of the whole file Build would write (without Trailer). Benchmarks
// write the header and extend the file sparsely to size, so that a
// multi-gigabyte model costs no memory to make.
func (s File) Header() (head []byte, size int64) {
	var b bytes.Buffer
	b.WriteString(gguf.Magic)
	b.Write(LE(cmpOr(s.Version, 3)))
	nt, nk := s.NTensors, s.NKV
	if nt == 0 {
		nt = uint64(len(s.Tensors))
	}
	if nk == 0 {
		nk = uint64(len(s.KVs))
	}
	b.Write(LE(nt))
	b.Write(LE(nk))
	for _, p := range s.KVs {
		b.Write(str(p.Key, 0))
		b.Write(LE(uint32(p.VT)))
		if p.VT != gguf.Array {
			b.Write(value(p.VT, p.Val))
			continue
		}
		b.Write(LE(uint32(p.Elem)))
		switch vals := p.Val.(type) {
		case []string:
			b.Write(LE(cmpOr(p.RawLength, uint64(len(vals)))))
			for _, v := range vals {
				b.Write(str(v, 0))
			}
		case []int32:
			b.Write(LE(cmpOr(p.RawLength, uint64(len(vals)))))
			b.Write(LE(vals))
		case []float64:
			b.Write(LE(cmpOr(p.RawLength, uint64(len(vals)))))
			b.Write(LE(vals))
		default:
			b.Write(LE(p.RawLength))
		}
	}
	align := cmpOr(s.Align, 32)
	var off int64
	for i := range s.Tensors {
		t := &s.Tensors[i]
		if t.Offset < 0 {
			t.Offset = (off + align - 1) / align * align
		}
		off = max(off, t.Offset+t.Size)
		b.Write(str(t.Name, 0))
		b.Write(LE(uint32(len(t.Dims))))
		for _, d := range t.Dims {
			b.Write(LE(d))
		}
		b.Write(LE(uint32(t.Type)))
		b.Write(LE(uint64(t.Offset)))
	}
	for int64(b.Len())%align != 0 && len(s.Tensors) > 0 {
		b.WriteByte(s.Pad)
	}
	size = int64(b.Len())
	if len(s.Tensors) > 0 {
		size += (off + align - 1) / align * align
	}
	return b.Bytes(), size
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Every is a valid file with a tensor of every ggml type the spec lists
// and a pair of every value type.
func Every() File {
	s := File{KVs: []KV{
		{Key: "general.architecture", VT: gguf.String, Val: "llama"},
		{Key: "general.name", VT: gguf.String, Val: "every type"},
		{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(32)},
		{Key: "u8", VT: gguf.Uint8, Val: uint8(1)}, {Key: "i8", VT: gguf.Int8, Val: int8(-1)},
		{Key: "u16", VT: gguf.Uint16, Val: uint16(2)}, {Key: "i16", VT: gguf.Int16, Val: int16(-2)},
		{Key: "i32", VT: gguf.Int32, Val: int32(-3)}, {Key: "f32", VT: gguf.Float32, Val: float32(0.5)},
		{Key: "bool", VT: gguf.Bool, Val: byte(1)}, {Key: "u64", VT: gguf.Uint64, Val: uint64(4)},
		{Key: "i64", VT: gguf.Int64, Val: int64(-4)}, {Key: "f64", VT: gguf.Float64, Val: 0.25},
		{Key: "tokenizer.ggml.tokens", VT: gguf.Array, Elem: gguf.String, Val: []string{"<s>", "</s>", "hello"}},
		{Key: "tokenizer.ggml.token_type", VT: gguf.Array, Elem: gguf.Int32, Val: []int32{3, 3, 1}},
	}}
	for _, ty := range gguf.Types() {
		block, size := TypeSizes(ty)
		s.Tensors = append(s.Tensors, Tensor{Name: "t." + ty.String(), Dims: []uint64{uint64(2 * block), 3}, Type: ty, Size: 2 * 3 * size, Offset: -1})
	}
	return s
}

// TypeSizes are ggml's block and type sizes, restated from
// ggml-common.h independently of formats/gguf's table.
func TypeSizes(t gguf.Type) (block, size int64) {
	switch t.String() {
	case "F32", "I32":
		return 1, 4
	case "F16", "BF16", "I16":
		return 1, 2
	case "I8":
		return 1, 1
	case "I64", "F64":
		return 1, 8
	case "Q4_0", "IQ4_NL":
		return 32, 18
	case "Q4_1":
		return 32, 20
	case "Q5_0":
		return 32, 22
	case "Q5_1":
		return 32, 24
	case "Q8_0":
		return 32, 34
	case "Q8_1":
		return 32, 36
	case "MXFP4":
		return 32, 17
	case "NVFP4": // ggml-common.h block_nvfp4: 4 UE4M3 scales, 64 E2M1 nibbles
		return 64, 36
	case "Q1_0": // block_q1_0: ggml_half d, 128 bits
		return 128, 18
	case "Q2_0": // block_q2_0: ggml_half d, 64 2-bit quants
		return 64, 18
	}
	return 256, map[string]int64{"Q2_K": 84, "Q3_K": 110, "Q4_K": 144, "Q5_K": 176, "Q6_K": 210, "Q8_K": 292,
		"IQ2_XXS": 66, "IQ2_XS": 74, "IQ3_XXS": 98, "IQ1_S": 50, "IQ3_S": 110, "IQ2_S": 82, "IQ4_XS": 136,
		"IQ1_M": 56, "TQ1_0": 54, "TQ2_0": 66}[t.String()]
}

// Case is a file that breaks one rule of formats/gguf's package doc, the
// kind it is refused with, and a phrase of the message.
type Case struct {
	Name string
	File []byte
	Kind formats.Kind
	Msg  string
}

// Base is the valid file the hostile cases are made from.
func Base() File {
	return File{KVs: []KV{{Key: "general.architecture", VT: gguf.String, Val: "llama"}},
		Tensors: []Tensor{{Name: "a", Dims: []uint64{8}, Type: 0, Size: 32, Offset: -1}, {Name: "b", Dims: []uint64{32}, Type: 2, Size: 18, Offset: -1}}}
}

// Hostile returns one case per refusal: the crash classes published for
// llama.cpp, gguflib (MLX) and gguf-parser-go, and every other rule.
func Hostile() []Case {
	with := func(f func(*File)) []byte { s := Base(); f(&s); return s.Build() }
	return []Case{
		{"version 1", with(func(s *File) { s.Version = 1 }), formats.KindUnsupported, "version 1"},
		{"big-endian", with(func(s *File) { s.Version = 3 << 24 }), formats.KindUnsupported, "big-endian"},
		{"version 4", with(func(s *File) { s.Version = 4 }), formats.KindUnsupported, "version 4"},
		{"huge tensor count", with(func(s *File) { s.NTensors = math.MaxUint64 }), formats.KindLimitExceeded, "MaxTensors"},
		{"huge metadata count", with(func(s *File) { s.NKV = math.MaxUint64 }), formats.KindLimitExceeded, "MaxMetadataEntries"},
		{"counts beyond the file", with(func(s *File) { s.NKV = 5000 }), formats.KindMalformed, "cannot fit"},
		{"huge key length", append(append([]byte("GGUF\x03\x00\x00\x00"), LE([]uint64{0, 1, math.MaxUint64})...), make([]byte, 64)...), formats.KindLimitExceeded, "metadata key length"},
		{"huge tensor name length", append(append([]byte("GGUF\x03\x00\x00\x00"), LE([]uint64{1, 0, 1 << 40})...), make([]byte, 64)...), formats.KindLimitExceeded, "tensor name length"},
		{"tensor name of 64 bytes", with(func(s *File) { s.Tensors[0].Name = string(bytes.Repeat([]byte("n"), 64)) }), formats.KindLimitExceeded, "tensor name"},
		{"alignment 0", with(func(s *File) {
			s.KVs = append(s.KVs, KV{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(0)})
		}), formats.KindMalformed, "power of two"},
		{"alignment 48", with(func(s *File) {
			s.KVs = append(s.KVs, KV{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(48)})
		}), formats.KindMalformed, "power of two"},
		{"alignment as int32", with(func(s *File) {
			s.KVs = append(s.KVs, KV{Key: "general.alignment", VT: gguf.Int32, Val: int32(32)})
		}), formats.KindMalformed, "uint32"},
		{"duplicate key", with(func(s *File) { s.KVs = append(s.KVs, s.KVs[0]) }), formats.KindMalformed, "listed twice"},
		{"key not ASCII", with(func(s *File) { s.KVs[0].Key = "général" }), formats.KindMalformed, "ASCII"},
		{"key with an escape", with(func(s *File) { s.KVs[0].Key = "a\x1b[2J" }), formats.KindMalformed, "ASCII"},
		{"unknown value type", with(func(s *File) { s.KVs = append(s.KVs, KV{Key: "x", VT: 13, Val: uint32(0)}) }), formats.KindMalformed, "value type"},
		{"bool 2", with(func(s *File) { s.KVs = append(s.KVs, KV{Key: "x", VT: gguf.Bool, Val: byte(2)}) }), formats.KindMalformed, "neither 0 nor 1"},
		{"nested array", with(func(s *File) {
			s.KVs = append(s.KVs, KV{Key: "x", VT: gguf.Array, Elem: gguf.Array, Val: nil})
		}), formats.KindUnsupported, "nested"},
		{"array longer than the file", with(func(s *File) {
			s.KVs = append(s.KVs, KV{Key: "x", VT: gguf.Array, Elem: gguf.String, Val: []string{"a"}, RawLength: 1 << 40})
		}), formats.KindMalformed, "cannot fit"},
		{"duplicate tensor", with(func(s *File) { s.Tensors[1].Name = "a" }), formats.KindMalformed, "listed twice"},
		{"0 dimensions", with(func(s *File) { s.Tensors[0].Dims = nil }), formats.KindMalformed, "0 dimensions"},
		{"5 dimensions", with(func(s *File) { s.Tensors[0].Dims = []uint64{8, 1, 1, 1, 1} }), formats.KindMalformed, "5 dimensions"},
		{"a dimension of 0", with(func(s *File) { s.Tensors[0].Dims = []uint64{8, 0} }), formats.KindMalformed, "is 0"},
		{"dimension beyond MaxDim", with(func(s *File) { s.Tensors[0].Dims = []uint64{1 << 40} }), formats.KindLimitExceeded, "MaxDim"},
		{"removed type", with(func(s *File) { s.Tensors[0].Type = 4 }), formats.KindUnsupported, "ggml type 4"},
		{"unknown type", with(func(s *File) { s.Tensors[0].Type = 43 }), formats.KindUnsupported, "ggml type 43"},
		{"not a whole block", with(func(s *File) { s.Tensors[1].Dims = []uint64{16} }), formats.KindMalformed, "block size"},
		{"misaligned offset", with(func(s *File) { s.Tensors[1].Offset = 33 }), formats.KindMalformed, "multiple of the alignment"},
		{"overlap", with(func(s *File) { s.Tensors[1].Offset = 0 }), formats.KindMalformed, "has offset 0, expected 32"},
		{"hole", with(func(s *File) { s.Tensors[1].Offset = 64 }), formats.KindMalformed, "has offset 64, expected 32"},
		{"infos listed out of data order", with(func(s *File) { s.Tensors[0].Offset, s.Tensors[1].Offset = 32, 0 }), formats.KindMalformed, "has offset 32, expected 0"},
		{"string with a NUL", with(func(s *File) { s.KVs[0].Val = "llama\x00qwen2" }), formats.KindMalformed, "holds a NUL"},
		{"string not UTF-8", with(func(s *File) { s.KVs[0].Val = "llama\xff" }), formats.KindMalformed, "not valid UTF-8"},
		{"array string with a NUL", with(func(s *File) {
			s.KVs = append(s.KVs, KV{Key: "tokenizer.ggml.tokens", VT: gguf.Array, Elem: gguf.String, Val: []string{"a", "a\x00b"}})
		}), formats.KindMalformed, "holds a NUL"},
		{"array string not UTF-8", with(func(s *File) {
			s.KVs = append(s.KVs, KV{Key: "tokenizer.ggml.tokens", VT: gguf.Array, Elem: gguf.String, Val: []string{"\xc3("}})
		}), formats.KindMalformed, "not valid UTF-8"},
		{"tensor name not UTF-8", with(func(s *File) { s.Tensors[0].Name = "w\xff" }), formats.KindMalformed, "not UTF-8"},
		{"tensor name with a NUL", with(func(s *File) { s.Tensors[0].Name = "a\x00b" }), formats.KindMalformed, "holds a NUL"},
		{"past the end", with(func(s *File) { s.Tensors[1].Size = 18; s.Tensors[1].Dims = []uint64{32 * 100} }), formats.KindMalformed, "past the end"},
		{"trailing bytes", with(func(s *File) { s.Trailer = make([]byte, 64) }), formats.KindMalformed, "after the last tensor"},
		{"non-zero header padding", with(func(s *File) { s.Pad = 0xAA }), formats.KindMalformed, "header padding"},
		{"truncated in the tensor infos", Base().Build()[:110], formats.KindMalformed, "runs past the end"},
		{"not GGUF", []byte("GGUX\x03\x00\x00\x00"), formats.KindMalformed, "magic"},
	}
}

// Fixture is one file of testdata/gguf: its path there, its bytes, and
// the verdict loader.Open gives it (accept or a kind), under the MLX
// profile too.
type Fixture struct {
	Path      string
	File      []byte
	Want, MLX string
	Why       string
}

// Fixtures are the files testdata/gen_gguf.go writes: valid files and one
// hostile file per refusal.
func Fixtures() []Fixture {
	fx := []Fixture{
		{Path: "every.gguf", File: Every().Build(), Want: "accept", MLX: string(formats.KindUnsupported), Why: "a tensor of every ggml type, a pair of every value type; MLX loads few of the types"},
		{Path: "v2.gguf", File: File{Version: 2, KVs: []KV{{Key: "general.architecture", VT: gguf.String, Val: "llama"}},
			Tensors: []Tensor{{Name: "w", Dims: []uint64{4}, Type: 0, Size: 16, Offset: -1}, {Name: "b", Dims: []uint64{2}, Type: 1, Size: 4, Offset: -1}}}.Build(),
			Want: "accept", MLX: "accept", Why: "version 2, default alignment"},
		{Path: "align64.gguf", File: File{Align: 64, KVs: []KV{{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(64)}},
			Tensors: []Tensor{{Name: "a", Dims: []uint64{3}, Type: 0, Size: 12, Offset: -1}, {Name: "b.weight", Dims: []uint64{32}, Type: 8, Size: 34, Offset: -1}}}.Build(),
			Want: "accept", MLX: "accept", Why: "general.alignment 64, a Q8_0 tensor; gguflib at 8fa6eb6 (MLX 846d176's pin) reads general.alignment"},
		{Path: "mlx-quantized.gguf", File: File{KVs: []KV{{Key: "general.architecture", VT: gguf.String, Val: "llama"}},
			Tensors: []Tensor{
				{Name: "blk.0.attn_q.weight", Dims: []uint64{64, 2}, Type: 2, Size: 4 * 18, Offset: -1},
				{Name: "blk.0.attn_k.weight", Dims: []uint64{64, 2}, Type: 3, Size: 4 * 20, Offset: -1},
				{Name: "blk.0.ffn_up.weight", Dims: []uint64{32, 3}, Type: 8, Size: 3 * 34, Offset: -1},
				{Name: "blk.0.attn_norm.weight", Dims: []uint64{64}, Type: 0, Size: 256, Offset: -1},
			}}.Build(),
			Want: "accept", MLX: "accept", Why: "Q4_0, Q4_1 and Q8_0 weights and an F32 norm: what MLX loads and quantizes"},
		{Path: "gguflib-alignment-key-0.gguf", File: File{KVs: []KV{{Key: "general.alignmnet", VT: gguf.Uint32, Val: uint32(0)}},
			Tensors: []Tensor{{Name: "w", Dims: []uint64{4}, Type: 0, Size: 16, Offset: -1}}}.Build(),
			Want: "accept", MLX: "accept", Why: "the misspelt general.alignmnet, 0: gguflib at 8fa6eb6 ignores it (it read it only before e5cdcec)"},
		{Path: "mlx-short-quantized-name.gguf", File: File{Tensors: []Tensor{{Name: "q", Dims: []uint64{32, 2}, Type: 8, Size: 2 * 34, Offset: -1}}}.Build(),
			Want: "accept", MLX: "accept", Why: "a Q8_0 tensor named q: MLX 846d176 adds q.scales and q.biases (substr(0, len-7) keeps a short name whole)"},
		{Path: "mlx-q8_0-scale-512.gguf", File: File{Tensors: []Tensor{{Name: "w.weight", Dims: []uint64{32}, Type: 8, Size: 34, Offset: -1,
			Data: append([]byte{0x00, 0x60}, make([]byte, 32)...)}}}.Build(),
			Want: "accept", MLX: "unsupported", Why: "Q8_0 scale 512: MLX 846d176 computes the bias -128*d in float16, inf; ggml's values are finite"},
		{Path: "mlx-q4_0-scale-8192.gguf", File: File{Tensors: []Tensor{{Name: "w.weight", Dims: []uint64{32}, Type: 2, Size: 18, Offset: -1,
			Data: append([]byte{0x00, 0x70}, make([]byte, 16)...)}}}.Build(),
			Want: "accept", MLX: "unsupported", Why: "Q4_0 scale 8192: MLX 846d176 computes the bias -8*d in float16, inf; ggml's values are finite"},
		{Path: "bf16.gguf", File: File{Tensors: []Tensor{{Name: "h", Dims: []uint64{4}, Type: 30, Size: 8, Offset: -1}}}.Build(),
			Want: "accept", MLX: "unsupported", Why: "BF16: MLX 846d176 loads it as float16 through gguflib's gguf_tensor_to_f16, changing its values"},
		{Path: "float64-metadata.gguf", File: File{KVs: []KV{{Key: "rope.freq_base", VT: gguf.Float64, Val: float64(10000)}, {Key: "general.name", VT: gguf.String, Val: "after"}},
			Tensors: []Tensor{{Name: "w", Dims: []uint64{4}, Type: 0, Size: 16, Offset: -1}}}.Build(),
			Want: "accept", MLX: "unsupported", Why: "a float64 value, which MLX's metadata reader steps over by 4 bytes, not 8"},
	}
	fx = append(fx, Fixture{Path: "nvfp4-q1_0.gguf", File: File{KVs: []KV{{Key: "general.architecture", VT: gguf.String, Val: "llama"}},
		Tensors: []Tensor{
			{Name: "blk.0.ffn_up.weight", Dims: []uint64{128, 2}, Type: 40, Size: 2 * 2 * 36, Offset: -1},
			{Name: "blk.0.ffn_down.weight", Dims: []uint64{128, 2}, Type: 41, Size: 2 * 18, Offset: -1},
		}}.Build(),
		Want: "accept", MLX: string(formats.KindUnsupported), Why: "ggml types 40 (NVFP4) and 41 (Q1_0), which current ggml and gguf-py read; MLX does not"})
	for _, c := range Hostile() {
		want := string(c.Kind)
		fx = append(fx, Fixture{Path: "hostile/" + strings.ReplaceAll(c.Name, " ", "-") + ".gguf", File: c.File, Want: want, MLX: want, Why: c.Msg})
	}
	return fx
}

// Llama is a Llama-shaped GGUF file for benchmarks: a tokenizer of vocab
// strings and n F16 tensors of 4096×per elements each.
func Llama(vocab, n int, per uint64) File {
	toks := make([]string, vocab)
	for i := range toks {
		toks[i] = fmt.Sprintf("▁tok%d", i)
	}
	s := File{KVs: []KV{
		{Key: "general.architecture", VT: gguf.String, Val: "llama"},
		{Key: "general.name", VT: gguf.String, Val: "bench"},
		{Key: "tokenizer.ggml.tokens", VT: gguf.Array, Elem: gguf.String, Val: toks},
	}}
	for i := range n {
		s.Tensors = append(s.Tensors, Tensor{
			Name: fmt.Sprintf("blk.%d.ffn_up.weight", i), Dims: []uint64{4096, per},
			Type: gguf.Type(1), Size: int64(4096 * per * 2), Offset: -1,
		})
	}
	return s
}

// WriteSparse writes s's header to p and extends the file to its full
// size without writing the data: the holes read as zeros, so a
// multi-gigabyte model costs neither memory nor disk to make.
func WriteSparse(p string, s File) error {
	head, size := s.Header()
	if err := os.WriteFile(p, head, 0o644); err != nil {
		return err
	}
	return os.Truncate(p, size)
}
