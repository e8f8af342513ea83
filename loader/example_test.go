package loader_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// A service refuses anything but an approved, well-formed model, and hands
// MLX the tensors as views of the verified mapping.
func ExampleOpen() {
	policy, err := verify.ParsePolicy([]byte(`
formats: [safetensors]
require: [digest]
digests:
  - {name: tiny-mlp.safetensors, sha256: 6d9ff5b0bbf2d0e5b3d4d4a5a4d79b6f0d0b6c0c35ff2fc83dbd58b1e4a1bd7b}
`), ".")
	if err != nil {
		panic(err)
	}
	_, err = loader.Open(context.Background(), "../testdata/safetensors/tiny-mlp.safetensors", loader.WithPolicy(policy))
	fmt.Println(errors.Is(err, formats.KindDigestMismatch))

	m, err := loader.Open(context.Background(), "../testdata/safetensors/tiny-mlp.safetensors", loader.WithProfile(loader.ProfileMLX))
	if err != nil {
		panic(err)
	}
	defer m.Close()
	w, _ := m.Tensor("layers.0.weight")
	b, _ := m.Bytes("layers.0.weight")
	fmt.Println(w.DType, w.Shape, len(b))
	// Output:
	// true
	// F32 [16 8] 512
}

// A pickle is refused whatever its name.
func ExampleOpen_pickle() {
	_, err := loader.Open(context.Background(), "../testdata/pickle/torch-zip.pt")
	fmt.Println(formats.KindOf(err))
	// Output: pickle
}

// An npz is rewritten as canonical safetensors for MLX.
func ExampleModel_WriteSafetensors() {
	m, err := loader.Open(context.Background(), "../testdata/npz/positional.npz")
	if err != nil {
		panic(err)
	}
	defer m.Close()
	dir, _ := os.MkdirTemp("", "mlx-inbox")
	defer os.RemoveAll(dir)
	var buf bytes.Buffer
	if err := m.WriteSafetensors(&buf); err != nil {
		panic(err)
	}
	out := filepath.Join(dir, "model.safetensors")
	_ = os.WriteFile(out, buf.Bytes(), 0o644)
	c, _ := loader.Open(context.Background(), out)
	defer c.Close()
	for _, t := range c.Tensors {
		fmt.Println(t.Name, t.DType, t.Shape)
	}
	// Output:
	// arr_0 I64 [3]
	// arr_1 F64 [2 2]
}
