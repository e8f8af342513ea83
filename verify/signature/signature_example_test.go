package signature_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// A release pipeline signs a model directory; a service verifies the
// signer and every file before loading.
func ExampleSignModel() {
	dir, _ := os.MkdirTemp("", "model")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("weights"), 0o644)

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bundle, err := signature.SignModel(context.Background(), dir, key, signature.SignOptions{})
	if err != nil {
		panic(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "model.sig"), bundle, 0o644)

	v, err := signature.NewVerifier(signature.WithPublicKey("release", &key.PublicKey))
	if err != nil {
		panic(err)
	}
	signer, err := v.VerifyPath(context.Background(), dir)
	fmt.Println(signer, err)

	_ = os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("tampered"), 0o644)
	_, err = v.VerifyPath(context.Background(), dir)
	fmt.Println(errors.Is(err, formats.KindDigestMismatch))
	// Output:
	// key release <nil>
	// true
}

func ExampleParsePolicy() {
	p, err := verify.ParsePolicy([]byte("formats: [safetensors]\nlimits: {max_file_bytes: 20GiB}\n"), ".")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.AllowsFormat(formats.FormatNpz), p.Limits.MaxFileBytes)
	_, err = verify.ParsePolicy([]byte("formats: [pickle]\n"), ".")
	fmt.Println(err)
	// Output:
	// false 21474836480
	// policy: formats: "pickle" cannot be loaded safely; choose among safetensors, npy, npz and gguf
}
