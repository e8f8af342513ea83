//go:build mlx && cgo

package mlxarray

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// fixtures every one of whose tensors MLX takes as stored.
var fixtures = []string{
	"safetensors/every-dtype.safetensors", "safetensors/tiny-mlp.safetensors",
	"npy/le-c8.npy", "npy/le-f2.npy", "npy/le-f4.npy", "npy/le-f8.npy",
	"npy/le-i2.npy", "npy/le-i4.npy", "npy/le-i8.npy",
	"npy/le-u2.npy", "npy/le-u4.npy", "npy/le-u8.npy",
	"npy/na-b1.npy", "npy/na-i1.npy", "npy/na-u1.npy",
	"npy/scalar.npy", "npy/empty.npy", "npy/v2.npy", "npy/v3.npy",
	// BF16 stays bfloat16 here; MLX 846d176's GGUF loader makes it float16.
	"gguf/bf16.gguf", "gguf/v2.gguf", "gguf/float64-metadata.gguf",
}

// The arrays MLX builds from the verified mapping hold modelgate's bytes,
// dtype and shape, read back through mlx-c after evaluation.
func TestArraysHoldTheVerifiedBytes(t *testing.T) {
	for _, rel := range fixtures {
		m := open(t, rel)
		arrs, err := Load(m)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if len(arrs) != len(m.Tensors) {
			t.Fatalf("%s: %d arrays for %d tensors", rel, len(arrs), len(m.Tensors))
		}
		for _, tn := range m.Tensors {
			a := arrs[tn.Name]
			want, err := m.Bytes(tn.Name)
			if err != nil {
				t.Fatal(err)
			}
			d, shape, _ := Check(tn)
			got, err := a.Bytes()
			if err != nil {
				t.Fatalf("%s %s: %v", rel, tn.Name, err)
			}
			if a.DType() != d || !slices.Equal(a.Shape(), shape) || !bytes.Equal(got, want) {
				t.Errorf("%s %s: mlx %s %v %d bytes, modelgate %s %v %d bytes (equal %v)", rel, tn.Name,
					a.DType(), a.Shape(), len(got), d, shape, len(want), bytes.Equal(got, want))
			}
		}
		// The arrays are MLX's copies: they outlive the model.
		m.Close()
		for name, a := range arrs {
			if _, err := a.Bytes(); err != nil {
				t.Errorf("%s %s after Close: %v", rel, name, err)
			}
			a.Free()
			a.Free()
		}
	}
}

// MLX's own safetensors reader, given the same file's path, reads the same
// arrays the adapter built from the mapping.
func TestArraysEqualMLXLoadSafetensors(t *testing.T) {
	// every dtype MLX's reader takes; it refuses F64 (every-dtype holds
	// it), which the adapter builds as float64 all the same.
	all := stFile(t, "BOOL", "U8", "U16", "U32", "U64", "I8", "I16", "I32", "I64", "F16", "BF16", "F32", "C64")
	for _, rel := range []string{all, "safetensors/tiny-mlp.safetensors"} {
		if !filepath.IsAbs(rel) {
			rel = filepath.Join("..", "..", "testdata", rel)
		}
		m, err := loader.Open(context.Background(), rel)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		ours, err := Load(m)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := loadSafetensorsFile(rel)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if len(theirs) != len(ours) {
			t.Fatalf("%s: mlx_load_safetensors read %d arrays, the adapter built %d", rel, len(theirs), len(ours))
		}
		for name, a := range ours {
			b, ok := theirs[name]
			if !ok {
				t.Fatalf("%s: mlx_load_safetensors has no %s", rel, name)
			}
			x, err := a.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			y, err := b.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if a.DType() != b.DType() || !slices.Equal(a.Shape(), b.Shape()) || !bytes.Equal(x, y) {
				t.Errorf("%s %s: adapter %s %v, mlx_load_safetensors %s %v, bytes equal %v", rel, name, a.DType(), a.Shape(), b.DType(), b.Shape(), bytes.Equal(x, y))
			}
		}
	}
}

// The adapter reads what each mode holds in memory (the private copy
// too), and says so when a mode holds nothing (read-at).
func TestModes(t *testing.T) {
	p := filepath.Join("..", "..", "testdata", "safetensors", "tiny-mlp.safetensors")
	m, err := loader.Open(context.Background(), p, loader.WithMode(loader.ModePrivateCopy))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	arrs, err := Load(m)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range arrs {
		want, _ := m.Bytes(name)
		if got, err := a.Bytes(); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("private copy %s: %v", name, err)
		}
	}
	r, err := loader.Open(context.Background(), p, loader.WithMode(loader.ModeReadAt))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := Load(r); err == nil || !strings.Contains(err.Error(), "not in memory") {
		t.Fatalf("read-at: err %v, want the bytes not in memory", err)
	}
}

// A GGUF model with block-quantized tensors is refused whole, and frees
// the arrays it made before the refusal.
func TestLoadRefusesGGMLBlocks(t *testing.T) {
	m := open(t, "gguf/mlx-quantized.gguf")
	if _, err := Load(m); !errors.Is(err, formats.KindUnsupported) {
		t.Fatalf("err %v, want unsupported", err)
	}
}

// MLX's reader refuses F64 in safetensors; the adapter's float64 array
// holds the verified bytes (see TestArraysHoldTheVerifiedBytes).
func TestMLXLoadSafetensorsRefusesF64(t *testing.T) {
	if _, err := loadSafetensorsFile(filepath.Join("..", "..", "testdata", "safetensors/every-dtype.safetensors")); err == nil || !strings.Contains(err.Error(), "F64") {
		t.Fatalf("err %v, want MLX's unsupported dtype F64", err)
	}
}

// BF16 reaches MLX as bfloat16; FP8 is refused before MLX sees it.
func TestBF16AndRefusal(t *testing.T) {
	p := stFile(t, "BF16", "F8_E4M3")
	m, err := loader.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a, err := New(m, "t0")
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Bytes()
	want, _ := m.Bytes("t0")
	if err != nil || a.DType() != BFloat16 || !bytes.Equal(got, want) {
		t.Fatalf("bf16: %s %x %v, want bfloat16 %x", a.DType(), got, err, want)
	}
	if _, err := New(m, "t1"); !errors.Is(err, formats.KindUnsupported) {
		t.Fatalf("F8_E4M3: err %v, want unsupported", err)
	}
	theirs, err := loadSafetensorsFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b := theirs["t0"]
	y, err := b.Bytes()
	if err != nil || b.DType() != BFloat16 || !bytes.Equal(y, want) {
		t.Fatalf("mlx_load_safetensors bf16: %s %x %v", b.DType(), y, err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, rel := range []string{"npy/be-f4.npy", "npy/fortran.npy"} {
		m := open(t, rel)
		if _, err := New(m, m.Tensors[0].Name); !errors.Is(err, formats.KindUnsupported) {
			t.Errorf("%s: err %v, want unsupported", rel, err)
		}
	}
}
