package consumers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/internal/consumers"
	"github.com/modelgate/modelgate/loader"
)

// modelgateReading opens path as modelgate does and spells what it reads
// as the readers do: the verdict (accept or the refusal's kind) and, when
// accepted, the reading.
func modelgateReading(path string) (string, consumers.Reading) {
	m, err := loader.Open(context.Background(), path)
	if err != nil {
		return string(formats.KindOf(err)), consumers.Reading{Error: err.Error()}
	}
	defer m.Close()
	r := consumers.Reading{OK: true}
	for _, f := range m.Files {
		if g := f.GGUF(); g != nil {
			r.Metadata = ggufMetadata(g)
		}
	}
	for _, t := range m.Tensors {
		sr, err := m.Section(t.Name)
		if err != nil {
			return "io", consumers.Reading{Error: err.Error()}
		}
		h := sha256.New()
		if _, err := io.Copy(h, sr); err != nil {
			return "io", consumers.Reading{Error: err.Error()}
		}
		ct := consumers.Tensor{NameHex: hex.EncodeToString([]byte(t.Name)), DType: t.DType.String(), Shape: t.Shape,
			Offset: &t.Offset, Size: &t.Size, SHA256: hex.EncodeToString(h.Sum(nil))}
		switch {
		case t.GGMLType != "":
			ct.DType = fmt.Sprintf("ggml:%d", ggmlNumber(m, t))
			ct.Shape = m.Files[0].GGUF().Tensors[ggufIndex(m, t.Name)].Dims
		case t.BigEndian:
			ct.DType = ">" + ct.DType
		}
		if t.Member != "" || t.Compressed {
			ct.Offset = nil // numpy does not say where in the archive a member's data is
		}
		if !strings.HasSuffix(strings.ToLower(path), ".npz") && t.Member == "" && t.GGMLType == "" && strings.HasSuffix(strings.ToLower(path), ".npy") {
			ct.NameHex = "" // numpy.load of an .npy file returns an unnamed array
		}
		r.Tensors = append(r.Tensors, ct)
	}
	return "accept", r
}

func ggufIndex(m *loader.Model, name string) int {
	for i, t := range m.Files[0].GGUF().Tensors {
		if t.Name == name {
			return i
		}
	}
	return -1
}

func ggmlNumber(m *loader.Model, t loader.ModelTensor) uint32 {
	return uint32(m.Files[0].GGUF().Tensors[ggufIndex(m, t.Name)].Type)
}

// ggufMetadata spells every pair as ggml.c does: the key's bytes in hex,
// then "TYPE VALUE", strings in hex, floats as their bits.
func ggufMetadata(g *gguf.File) map[string]string {
	out := map[string]string{}
	for _, kv := range g.Metadata {
		out[hex.EncodeToString([]byte(kv.Key))] = ggufValue(kv)
	}
	return out
}

var ggufTypeNames = map[gguf.ValueType]string{gguf.Uint8: "u8", gguf.Int8: "i8", gguf.Uint16: "u16", gguf.Int16: "i16",
	gguf.Uint32: "u32", gguf.Int32: "i32", gguf.Float32: "f32", gguf.Bool: "bool", gguf.String: "str",
	gguf.Array: "arr", gguf.Uint64: "u64", gguf.Int64: "i64", gguf.Float64: "f64"}

func ggufValue(kv gguf.KV) string {
	if kv.Type != gguf.Array {
		return ggufTypeNames[kv.Type] + " " + scalar(kv.Value)
	}
	var elems []string
	switch v := kv.Value.(type) {
	case []uint8:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []int8:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []uint16:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []int16:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []uint32:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []int32:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []float32:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []bool:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []string:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []uint64:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []int64:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	case []float64:
		for _, x := range v {
			elems = append(elems, scalar(x))
		}
	default:
		return fmt.Sprintf("arr[?] %T", v)
	}
	return fmt.Sprintf("arr[%s] %d [%s]", ggufTypeNames[kv.Elem], len(elems), strings.Join(elems, ","))
}

func scalar(v any) string {
	switch x := v.(type) {
	case float32:
		return fmt.Sprintf("0x%08x", math.Float32bits(x))
	case float64:
		return fmt.Sprintf("0x%016x", math.Float64bits(x))
	case bool:
		if x {
			return "1"
		}
		return "0"
	case string:
		return hex.EncodeToString([]byte(x))
	}
	return fmt.Sprint(v)
}

// mlxReading is what modelgate says MLX reads from path under the MLX
// profile: the verdict and, when accepted, the arrays of the safetensors
// file `modelgate convert --profile mlx` writes (GGUF's Q4_0, Q4_1 and
// Q8_0 in MLX's quantization, npy in C order and little-endian).
func mlxReading(path string) (string, consumers.Reading) {
	m, err := loader.Open(context.Background(), path, loader.WithProfile(loader.ProfileMLX))
	if err != nil {
		return string(formats.KindOf(err)), consumers.Reading{Error: err.Error()}
	}
	defer m.Close()
	var buf bytes.Buffer
	if err := m.WriteSafetensors(&buf); err != nil {
		// The profile accepts the file, but convert --profile mlx has no
		// faithful safetensors for it (F64, which MLX reads from npy but
		// refuses in safetensors): MLX reads it as its spec says.
		if r, ok := specReading(path); ok {
			return "accept", r
		}
		return string(formats.KindOf(err)), consumers.Reading{Error: err.Error()}
	}
	f, err := safetensors.NewReaderBytes(buf.Bytes(), formats.DefaultLimits())
	if err != nil {
		return "convert: " + err.Error(), consumers.Reading{}
	}
	r := consumers.Reading{OK: true}
	single := strings.HasSuffix(strings.ToLower(path), ".npy")
	for _, t := range f.Tensors() {
		b, _ := f.Bytes(t.Name)
		sum := sha256.Sum256(b)
		name := t.Name
		if single {
			name = ""
		}
		r.Tensors = append(r.Tensors, consumers.Tensor{NameHex: hex.EncodeToString([]byte(name)), DType: t.DType.String(),
			Shape: append([]int64{}, t.Shape...), SHA256: hex.EncodeToString(sum[:])})
	}
	return "accept", r
}
