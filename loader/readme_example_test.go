package loader_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// readmeSnippet is the README's "library in 15 lines", as written there.
func readmeSnippet(ctx context.Context, modelDir, policyPath string, hand func(string, formats.DType, []int64, []byte)) error {
	policy, err := verify.LoadPolicy(policyPath) // formats, limits, digests, signers
	if err != nil {
		return err
	}
	m, err := loader.Open(ctx, modelDir, loader.WithPolicy(policy), loader.WithProfile(loader.ProfileMLX))
	if errors.Is(err, formats.KindPickle) {
		return fmt.Errorf("refused a pickle: %w", err) // every refusal is a *formats.Error with a Kind
	} else if err != nil {
		return err
	}
	defer m.Close()
	for _, t := range m.Tensors {
		b, _ := m.Bytes(t.Name) // zero-copy view of the verified, read-only mapping
		hand(t.Name, t.DType, t.Shape, b)
	}
	return nil
}

// The README's library snippet, run on a signed model with a policy that
// requires the signature: the library applies the policy's signatures
// section as the CLI does.
func Example_readme() {
	dir, _ := os.MkdirTemp("", "readme")
	defer os.RemoveAll(dir)
	model := filepath.Join(dir, "model")
	_ = os.Mkdir(model, 0o755)
	weights, _ := os.ReadFile("../testdata/safetensors/tiny-mlp.safetensors")
	_ = os.WriteFile(filepath.Join(model, "model.safetensors"), weights, 0o644)

	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	bundle, err := signature.SignModel(context.Background(), model, key, signature.SignOptions{})
	if err != nil {
		panic(err)
	}
	_ = os.WriteFile(filepath.Join(model, "model.sig"), bundle, 0o644)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	_ = os.WriteFile(filepath.Join(dir, "release.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("formats: [safetensors]\nrequire: [signature]\nsignatures: {keys: [release.pub]}\n"), 0o644)

	n := 0
	err = readmeSnippet(context.Background(), model, filepath.Join(dir, "policy.yaml"), func(name string, _ formats.DType, _ []int64, b []byte) { n++ })
	fmt.Println(err, n, "tensors handed over")

	_ = os.WriteFile(filepath.Join(model, "extra.safetensors"), weights, 0o644)
	err = readmeSnippet(context.Background(), model, filepath.Join(dir, "policy.yaml"), func(string, formats.DType, []int64, []byte) {})
	fmt.Println(formats.KindOf(err))
	// Output:
	// <nil> 6 tensors handed over
	// digest-mismatch
}
