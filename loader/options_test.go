package loader_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// refusingVerifier refuses every model: a stand-in for a signature that
// does not verify.
type refusingVerifier struct{}

func (refusingVerifier) VerifyModel(context.Context, *verify.ModelDigests) (string, error) {
	return "", formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, "refused by the test verifier")
}

// permutations returns every order of opts.
func permutations(opts []loader.Option) [][]loader.Option {
	if len(opts) <= 1 {
		return [][]loader.Option{opts}
	}
	var out [][]loader.Option
	for i := range opts {
		rest := append(append([]loader.Option{}, opts[:i]...), opts[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]loader.Option{opts[i]}, p...))
		}
	}
	return out
}

// TestOptionsCombineInAnyOrder: a policy and every option it can clash
// with give one configuration whatever their order; nothing given is
// dropped (issue 22, finding 3: WithAllowlist before WithPolicy was
// silently dropped), and contradictions are refused with kind usage.
func TestOptionsCombineInAnyOrder(t *testing.T) {
	dir := t.TempDir()
	w := stFile(t, formats.U8, "a", "b")
	writeFile(t, filepath.Join(dir, "model.safetensors"), w)
	writeFile(t, filepath.Join(dir, "README.md"), []byte("# model\n"))
	writeFile(t, filepath.Join(dir, "SUMS"), []byte(sha(w).String()+"  model.safetensors\n"))
	policy := func(body string) *verify.Policy {
		p, err := verify.ParsePolicy([]byte(body), dir)
		require.NoError(t, err)
		return p
	}
	formatsOnly := "version: 1\nformats: [safetensors]\n"
	digestOnly := fmt.Sprintf("version: 1\ndigests: [{name: model.safetensors, sha256: %q}]\n", sha(w))
	wrong, err := verify.NewAllowlist(verify.NewEntry("model.safetensors", verify.SHA256, verify.Digest{1}))
	require.NoError(t, err)
	other, err := verify.NewAllowlist(verify.NewEntry("model.safetensors", verify.SHA256, verify.Digest{2}))
	require.NoError(t, err)

	pubPath := filepath.Join(dir, "..", filepath.Base(dir)+"-key.pub")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	signedBy := fmt.Sprintf("version: 1\nsignatures: {keys: [%q], bundle: elsewhere.sig}\n", pubPath)

	for _, tc := range []struct {
		name string
		opts []loader.Option
		kind formats.Kind // "" accepted
	}{
		{"an allowlist is kept beside a policy", []loader.Option{loader.WithPolicy(policy(formatsOnly)), loader.WithAllowlist(wrong), loader.WithExclude("*.md", "SUMS")}, formats.KindDigestMismatch},
		{"an exclusion adds to a policy's digests", []loader.Option{loader.WithPolicy(policy(digestOnly)), loader.WithExclude("*.md", "SUMS")}, ""},
		{"evidence adds to a policy's digests", []loader.Option{loader.WithPolicy(policy(digestOnly)), loader.WithExclude("*.md"), loader.WithEvidence(filepath.Join(dir, "SUMS"))}, ""},
		{"limits are kept beside a policy without limits", []loader.Option{loader.WithPolicy(policy(formatsOnly)), loader.WithLimits(formats.Limits{MaxTensors: 1})}, formats.KindLimitExceeded},
		{"limits from both contradict", []loader.Option{loader.WithPolicy(policy("version: 1\nlimits: {max_tensors: 10}\n")), loader.WithLimits(formats.Limits{MaxTensors: 1})}, formats.KindUsage},
		{"a verifier is kept beside a policy", []loader.Option{loader.WithPolicy(policy(formatsOnly)), loader.WithSignatureVerifier(refusingVerifier{})}, formats.KindSignatureInvalid},
		{"a verifier must accept beside a policy's signatures", []loader.Option{loader.WithPolicy(policy(signedBy)), loader.WithSignatureVerifier(refusingVerifier{}), loader.WithBundle(filepath.Join(dir, "elsewhere.sig"))}, formats.KindSignatureInvalid},
		{"two bundles contradict", []loader.Option{loader.WithPolicy(policy(signedBy)), loader.WithBundle(filepath.Join(dir, "other.sig"))}, formats.KindUsage},
		{"two policies contradict", []loader.Option{loader.WithPolicy(policy(formatsOnly)), loader.WithPolicy(policy(digestOnly))}, formats.KindUsage},
		{"two allowlists that disagree contradict", []loader.Option{loader.WithAllowlist(wrong), loader.WithAllowlist(other)}, formats.KindUsage},
		{"an allowlist that disagrees with the policy's contradicts", []loader.Option{loader.WithPolicy(policy(digestOnly)), loader.WithAllowlist(wrong)}, formats.KindUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, opts := range permutations(tc.opts) {
				m, err := loader.Open(ctx, dir, opts...)
				if tc.kind == "" {
					require.NoError(t, err, "order %d", i)
					m.Close()
					continue
				}
				assert.Equal(t, tc.kind, formats.KindOf(err), "order %d: %v", i, err)
			}
		})
	}
}

// TestAllowlistGivenBeforePolicyIsKept: Open(p, WithAllowlist(a),
// WithPolicy(pol)) dropped the allowlist (issue 22, finding 3).
func TestAllowlistGivenBeforePolicyIsKept(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "model.safetensors"), stFile(t, formats.U8, "w"))
	wrong, err := verify.NewAllowlist(verify.NewEntry("model.safetensors", verify.SHA256, verify.Digest{1}))
	require.NoError(t, err)
	pol, err := verify.ParsePolicy([]byte("version: 1\nformats: [safetensors]\n"), dir)
	require.NoError(t, err)
	_, err = loader.Open(ctx, dir, loader.WithAllowlist(wrong), loader.WithPolicy(pol))
	assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), "%v", err)
}
