package signature_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// TestPolicyBuildsItsVerifierWhenImported: importing this package
// registers FromPolicy, so that verify.Policy.Checks builds the verifier
// of the policy's signatures section, its relative key path resolved
// against the policy's directory.
func TestPolicyBuildsItsVerifierWhenImported(t *testing.T) {
	dir := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cosign.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	p, err := verify.ParsePolicy([]byte("signatures: {keys: [cosign.pub]}\nrequire: [signature]\n"), dir)
	require.NoError(t, err)
	c, err := p.Checks()
	require.NoError(t, err)
	v, ok := c.Signatures.(*signature.Verifier)
	require.True(t, ok, "got %T", c.Signatures)
	assert.Contains(t, v.String(), "key")
}
