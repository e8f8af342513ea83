package signature

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/testvectors"
	"github.com/modelgate/modelgate/verify"
)

// TestLegacyFormsStillNeeded fails once sigstore-go verifies a form that
// legacy.go verifies by hand: delete that form from legacy.go then.
func TestLegacyFormsStillNeeded(t *testing.T) {
	mt := filepath.Join(testvectors.Dir(t, "model-transparency"), "scripts", "tests")
	keys := filepath.Join(mt, "keys", "certificate")

	_, err := bundle.LoadJSONFromPath(filepath.Join(mt, "v1.0.0-elliptic-key", "model.sig"))
	assert.Error(t, err, "sigstore-go now reads rawBytes key bundles")

	for _, dir := range []string{"v0.2.0-certificate", "v1.1.0-certificate"} {
		b, err := os.ReadFile(filepath.Join(mt, dir, "model.sig"))
		require.NoError(t, err)
		rb, err := parseBundle(b)
		require.NoError(t, err)
		m, err := parseStatement(rb)
		require.NoError(t, err)
		require.NotEmpty(t, rb.legacyForm(m), dir)
		v, err := NewVerifier(WithCAFile(filepath.Join(keys, "ca-cert.pem")))
		require.NoError(t, err)
		alg, digest := "", []byte(nil)
		if !m.legacy {
			alg, digest = "sha256", mustHex(t, m.root)
		}
		_, err = v.verifySigstore(rb, alg, digest)
		assert.Error(t, err, "sigstore-go now verifies %s (%s)", dir, rb.legacyForm(m))
		_, err = v.verifyLegacy(rb, alg, digest, m)
		assert.NoError(t, err, "legacy.go verifies %s", dir)
	}
}

func mustHex(t *testing.T, s string) []byte {
	d, err := verify.ParseDigest(s)
	require.NoError(t, err)
	return d[:]
}
