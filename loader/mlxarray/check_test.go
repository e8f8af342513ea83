package mlxarray

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

func open(t *testing.T, rel string) *loader.Model {
	t.Helper()
	m, err := loader.Open(context.Background(), filepath.Join("..", "..", "testdata", rel))
	if err != nil {
		t.Fatalf("open %s: %v", rel, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Every dtype maps to the mlx_dtype of the same name and width, or is
// refused as unsupported.
func TestCheckDTypes(t *testing.T) {
	m := open(t, "safetensors/every-dtype.safetensors")
	mapped := 0
	for _, tn := range m.Tensors {
		d, shape, err := Check(tn)
		if _, ok := dtypes[tn.DType]; !ok {
			if !errors.Is(err, formats.KindUnsupported) {
				t.Errorf("%s (%s): err %v, want unsupported", tn.Name, tn.DType, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tn.Name, err)
		}
		mapped++
		if len(shape) != len(tn.Shape) {
			t.Errorf("%s: shape %v from %v", tn.Name, shape, tn.Shape)
		}
		if want := map[formats.DType]string{formats.BOOL: "bool", formats.BF16: "bfloat16", formats.F16: "float16", formats.F32: "float32", formats.F64: "float64", formats.C64: "complex64",
			formats.I8: "int8", formats.I16: "int16", formats.I32: "int32", formats.I64: "int64",
			formats.U8: "uint8", formats.U16: "uint16", formats.U32: "uint32", formats.U64: "uint64"}[tn.DType]; d.String() != want {
			t.Errorf("%s: %s maps to %s, want %s", tn.Name, tn.DType, d, want)
		}
	}
	if mapped != len(m.Tensors) {
		t.Fatalf("%d of %d tensors mapped", mapped, len(m.Tensors))
	}
}

// stFile writes a safetensors file of the given tensors, t0, t1, ...,
// each of shape [2].
func stFile(t *testing.T, dtypes ...string) string {
	t.Helper()
	hdr := map[string]any{}
	var data []byte
	for i, d := range dtypes {
		n := 2 * map[string]int{"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
			"U16": 2, "I16": 2, "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "F32": 4,
			"U64": 8, "I64": 8, "F64": 8, "C64": 8}[d]
		hdr[fmt.Sprintf("t%d", i)] = map[string]any{"dtype": d, "shape": []int{2}, "data_offsets": []int{len(data), len(data) + n}}
		for k := 0; k < n; k++ {
			v := byte(0x38 + i + k)
			if d == "BOOL" {
				v = byte(k & 1)
			}
			data = append(data, v)
		}
	}
	h, _ := json.Marshal(hdr)
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(h)))
	b.Write(h)
	b.Write(data)
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckBF16AndRefusedDTypes(t *testing.T) {
	m, err := loader.Open(context.Background(), stFile(t, "BF16", "F8_E4M3", "F8_E5M2"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, tn := range m.Tensors {
		d, _, err := Check(tn)
		switch tn.DType {
		case formats.BF16:
			if err != nil || d != BFloat16 {
				t.Errorf("%s: %v %v, want bfloat16", tn.Name, d, err)
			}
		default:
			if !errors.Is(err, formats.KindUnsupported) {
				t.Errorf("%s (%s): err %v, want unsupported", tn.Name, tn.DType, err)
			}
		}
	}
}

func TestCheckRefusesStoredLayouts(t *testing.T) {
	for _, rel := range []string{"npy/be-f4.npy", "npy/fortran.npy"} {
		m := open(t, rel)
		_, _, err := Check(m.Tensors[0])
		if !errors.Is(err, formats.KindUnsupported) {
			t.Errorf("%s: err %v, want unsupported", rel, err)
		}
	}
}

func TestCheckRefusesGGMLBlocks(t *testing.T) {
	m := open(t, "gguf/mlx-quantized.gguf")
	refused := 0
	for _, tn := range m.Tensors {
		if tn.GGMLType == "" || tn.DType != formats.InvalidDType {
			continue
		}
		if _, _, err := Check(tn); !errors.Is(err, formats.KindUnsupported) {
			t.Errorf("%s (%s): err %v, want unsupported", tn.Name, tn.GGMLType, err)
		}
		refused++
	}
	if refused == 0 {
		t.Fatal("no block-quantized tensor in the fixture")
	}
}

func TestCheckRefusesSizeOtherThanShape(t *testing.T) {
	tn := loader.ModelTensor{Tensor: loader.Tensor{TensorInfo: formats.TensorInfo{Name: "x", DType: formats.F32, Shape: []int64{4}, Size: 8}}}
	if _, _, err := Check(tn); !errors.Is(err, formats.KindMalformed) {
		t.Fatalf("err %v, want malformed", err)
	}
}

func TestCheckRefusesDimensionOverInt(t *testing.T) {
	tn := loader.ModelTensor{Tensor: loader.Tensor{TensorInfo: formats.TensorInfo{Name: "x", DType: formats.U8, Shape: []int64{1 << 31}}}}
	if _, _, err := Check(tn); !errors.Is(err, formats.KindLimitExceeded) {
		t.Fatalf("err %v, want limit-exceeded", err)
	}
}
