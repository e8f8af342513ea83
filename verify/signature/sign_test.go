package signature_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify/signature"
)

func keys(t testing.TB) map[string]crypto.Signer {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return map[string]crypto.Signer{"p256": p256, "p384": p384, "p521": p521, "ed25519": ed, "rsa": r}
}

func writeKeys(t testing.TB, dir, name string, k crypto.Signer) (priv, pub string) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	priv = writeT(t, filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	pd, err := x509.MarshalPKIXPublicKey(k.Public())
	require.NoError(t, err)
	pub = writeT(t, filepath.Join(dir, name+".pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pd}))
	return priv, pub
}

// TestSignAndVerify signs a model directory and a single file with every
// key type and verifies them; a changed file, another key, or a bundle
// for another model is refused.
func TestSignAndVerify(t *testing.T) {
	ks := keys(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kd := t.TempDir()
	_, otherPub := writeKeys(t, kd, "other", other)
	for name, k := range ks {
		t.Run(name, func(t *testing.T) {
			privPath, pubPath := writeKeys(t, kd, name, k)
			signer, err := signature.LoadPrivateKeyFile(privPath)
			require.NoError(t, err)
			dir := t.TempDir()
			writeT(t, filepath.Join(dir, "model.safetensors"), []byte("weights"))
			writeT(t, filepath.Join(dir, "sub", "config.json"), []byte("{}"))
			writeT(t, filepath.Join(dir, ".git", "HEAD"), []byte("ref"))
			b, err := signature.SignModel(context.Background(), dir, signer, signature.SignOptions{})
			require.NoError(t, err)
			writeT(t, filepath.Join(dir, "model.sig"), b)
			v, err := signature.NewVerifier(signature.WithPublicKeyFile(pubPath))
			require.NoError(t, err)
			who, err := v.VerifyPath(context.Background(), dir)
			require.NoError(t, err)
			assert.Equal(t, "key "+name+".pub", who)

			writeT(t, filepath.Join(dir, "sub", "config.json"), []byte("{ }"))
			_, err = v.VerifyPath(context.Background(), dir)
			assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err))

			w, err := signature.NewVerifier(signature.WithPublicKeyFile(otherPub))
			require.NoError(t, err)
			_, err = w.VerifyPath(context.Background(), dir)
			assert.Equal(t, formats.KindSignatureInvalid, formats.KindOf(err), "another key: %v", err)

			// A single file: resource ".", bundle beside it.
			f := writeT(t, filepath.Join(t.TempDir(), "m.safetensors"), []byte("one file"))
			b, err = signature.SignModel(context.Background(), f, signer, signature.SignOptions{})
			require.NoError(t, err)
			writeT(t, f+".sig", b)
			_, err = v.VerifyPath(context.Background(), f)
			require.NoError(t, err)
			writeT(t, f, []byte("one filE"))
			_, err = v.VerifyPath(context.Background(), f)
			assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err))
		})
	}
}

func TestSignatureVerifierOptions(t *testing.T) {
	_, err := signature.NewVerifier()
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "an empty allowlist is refused")
	_, err = signature.NewVerifier(signature.WithIdentity("", "x", ""))
	assert.Error(t, err)
	_, err = signature.NewVerifier(signature.WithIdentity("i", "x", "y"))
	assert.Error(t, err)
	_, err = signature.NewVerifier(signature.WithIdentity("i", "", "("))
	assert.Error(t, err)
	_, err = signature.NewVerifier(signature.WithPublicKeyFile("/nonexistent.pem"))
	assert.Equal(t, formats.KindIO, formats.KindOf(err))
	p := writeT(t, filepath.Join(t.TempDir(), "k.pem"), []byte("not pem"))
	_, err = signature.NewVerifier(signature.WithCAFile(p))
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err))
	_, err = signature.LoadPrivateKeyFile(p)
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err))
	_, err = os.Stat(p)
	require.NoError(t, err)
}

// TestPublicGoodOffline: with no network and no TUF cache, asking for the
// public-good root fails at once with ErrNoTrustedRoot.
func TestPublicGoodOffline(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	_, err := signature.NewVerifier(signature.WithPublicGoodInstance(), signature.WithIdentity("i", "s", ""))
	if err == nil {
		t.Skip("the public-good TUF repository is reachable from here")
	}
	assert.Equal(t, formats.KindIO, formats.KindOf(err))
	assert.ErrorIs(t, err, signature.ErrNoTrustedRoot)
}

// TestBundleBesideDirectory finds model.sig beside a model directory.
func TestBundleBesideDirectory(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	parent := t.TempDir()
	dir := filepath.Join(parent, "model")
	writeT(t, filepath.Join(dir, "w.safetensors"), []byte("w"))
	b, err := signature.SignModel(context.Background(), dir, k, signature.SignOptions{})
	require.NoError(t, err)
	writeT(t, filepath.Join(parent, "model.sig"), b)
	v, err := signature.NewVerifier(signature.WithPublicKey("k", &k.PublicKey))
	require.NoError(t, err)
	_, err = v.VerifyPath(context.Background(), dir)
	require.NoError(t, err)
}
