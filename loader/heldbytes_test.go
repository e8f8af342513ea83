package loader_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// rewritingVerifier rewrites a file on disk (same size, mtime restored)
// just before it checks the signature, as a local writer could.
type rewritingVerifier struct {
	real    *signature.Verifier
	rewrite func()
}

func (r rewritingVerifier) VerifyModel(ctx context.Context, md *verify.ModelDigests) (string, error) {
	r.rewrite()
	return r.real.VerifyModel(ctx, md)
}

// TestSignatureCheckedOverTheHeldBytes: a manifest the signature check
// recomputes (shards, BLAKE3) is computed from the bytes the loader holds
// and hands out, not read again from the disk. The file is rewritten
// after it is held; under private-copy mode the check and the tensors
// still see the bytes that were signed.
func TestSignatureCheckedOverTheHeldBytes(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	real, err := signature.NewVerifier(signature.WithPublicKey("k", &key.PublicKey))
	require.NoError(t, err)
	data := bytes.Repeat([]byte{7}, 1<<20)
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, []safetensors.Tensor{{Name: "w", DType: formats.U8, Shape: []int64{1 << 20}, Data: bytes.NewReader(data)}}, nil))
	for _, opts := range []signature.SignOptions{{ShardSize: 1 << 16}, {Hash: verify.BLAKE3}} {
		dir := t.TempDir()
		p := filepath.Join(dir, "model.safetensors")
		writeFile(t, p, buf.Bytes())
		b, err := signature.SignModel(ctx, dir, key, opts)
		require.NoError(t, err)
		writeFile(t, filepath.Join(dir, "model.sig"), b)
		old := time.Now().Add(-time.Hour)
		require.NoError(t, os.Chtimes(p, old, old))
		rewrite := func() {
			changed := bytes.Clone(buf.Bytes())
			changed[len(changed)-1000] = 8 // deep in the data, past the re-checked head
			require.NoError(t, os.WriteFile(p, changed, 0o644))
			require.NoError(t, os.Chtimes(p, old, old))
		}
		m, err := loader.Open(ctx, dir, loader.WithMode(loader.ModePrivateCopy), loader.WithSignatureVerifier(rewritingVerifier{real, rewrite}))
		require.NoError(t, err, "%+v: the signed bytes are held", opts)
		got, err := m.Bytes("w")
		require.NoError(t, err)
		assert.Equal(t, data, got, "what was verified is what is handed out")
		m.Close()
		// The file on disk now differs from the signature.
		_, err = real.VerifyPath(ctx, dir)
		assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err))
	}
}
