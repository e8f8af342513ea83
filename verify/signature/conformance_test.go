package signature_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/testvectors"
	"github.com/modelgate/modelgate/verify/signature"
)

const (
	beaconSAN    = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
	githubIssuer = "https://token.actions.githubusercontent.com"
)

func sigstoreDir(t testing.TB) string { return testvectors.Dir(t, "sigstore") }

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// TestConformance runs the sigstore-conformance verify cases offline, as
// the conformance client protocol does: once with the artifact, once with
// "sha256:HEX"; a _fail suffix means the bundle must be refused.
func TestConformance(t *testing.T) {
	base := sigstoreDir(t)
	cases, err := os.ReadDir(filepath.Join(base, "conformance"))
	require.NoError(t, err)
	n := 0
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(base, "conformance", c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			trusted := filepath.Join(dir, "trusted_root.json")
			if _, err := os.Stat(trusted); err != nil {
				trusted = filepath.Join(base, "trusted_root.public-good.json")
			}
			opts := []signature.Option{signature.WithTrustedRootFile(trusted), signature.WithBundleFile(filepath.Join(dir, "bundle.sigstore.json"))}
			if _, err := os.Stat(filepath.Join(dir, "key.pub")); err == nil {
				opts = append(opts, signature.WithPublicKeyFile(filepath.Join(dir, "key.pub")))
			} else {
				san, iss := readTrim(filepath.Join(dir, "identity")), readTrim(filepath.Join(dir, "issuer"))
				if san == "" {
					san, iss = beaconSAN, githubIssuer
				}
				opts = append(opts, signature.WithIdentity(iss, san, ""))
			}
			artifact := filepath.Join(dir, "artifact")
			if _, err := os.Stat(artifact); err != nil {
				artifact = filepath.Join(base, "conformance", "a.txt")
			}
			fail := strings.HasSuffix(c.Name(), "_fail")
			v, err := signature.NewVerifier(opts...)
			if fail && err != nil {
				return // refused when the key is parsed
			}
			require.NoError(t, err)
			_, err = v.VerifyPath(context.Background(), artifact)
			assert.Equal(t, fail, err != nil, "artifact: %v", err)
			b, err := os.ReadFile(artifact)
			require.NoError(t, err)
			sum := sha256.Sum256(b)
			_, err = v.VerifyDigest(filepath.Join(dir, "bundle.sigstore.json"), "sha256", sum[:])
			assert.Equal(t, fail, err != nil, "sha256:%x: %v", sum, err)
		})
	}
	assert.Equal(t, 70, n, "sigstore-conformance has 70 bundle-verify cases")
}

// TestSigstoreJSProvenance verifies npm's provenance bundle for
// sigstore@2.0.0 by its sha512 digest.
func TestSigstoreJSProvenance(t *testing.T) {
	base := sigstoreDir(t)
	d, err := hex.DecodeString("46d4e2f74c4877316640000a6fdf8a8b59f1e0847667973e9859f774dd31b8f1e0937813b777fb66a2ac67d50540fe34640966eee9fc2ccca387082b4c85cd3c")
	require.NoError(t, err)
	for _, root := range []string{"trusted_root.public-good.json", "sigstore-go/public-good.json"} {
		v, err := signature.NewVerifier(signature.WithTrustedRootFile(filepath.Join(base, root)),
			signature.WithBundleFile(filepath.Join(base, "sigstore-go", "sigstore.js@2.0.0-provenance.sigstore.json")),
			signature.WithIdentity(githubIssuer, "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main", ""))
		require.NoError(t, err)
		bundle := filepath.Join(base, "sigstore-go", "sigstore.js@2.0.0-provenance.sigstore.json")
		signer, err := v.VerifyDigest(bundle, "sha512", d)
		require.NoError(t, err, root)
		assert.Contains(t, signer, "sigstore-js")
		d2 := append([]byte{}, d...)
		d2[0] ^= 1
		_, err = v.VerifyDigest(bundle, "sha512", d2)
		assert.Error(t, err)
	}
}
