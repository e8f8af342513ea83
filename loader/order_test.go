package loader

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
)

// recordingVerifier records when it was called, hashes every file with
// SHA-256 as a manifest would ask, and approves.
type recordingVerifier struct {
	events *[]string
	files  int
	seen   map[string][]byte
}

func (r *recordingVerifier) VerifyModel(ctx context.Context, md *verify.ModelDigests) (string, error) {
	*r.events = append(*r.events, "signature")
	r.files = len(md.Files)
	r.seen = map[string][]byte{}
	for i, f := range md.Files {
		d, err := md.Sum(ctx, i, verify.SHA256, 0, f.Size)
		if err != nil {
			return "", err
		}
		r.seen[f.Name] = d
	}
	return "test", nil
}

// TestVerifyBeforeParse: Open reads in the order of trust. An unapproved
// file with a malformed header is refused not-allowlisted and never
// parsed; under a signature every file is hashed, the signature checked,
// and only then anything parsed.
func TestVerifyBeforeParse(t *testing.T) {
	var events []string
	testHookParse = func(name string) { events = append(events, "parse "+name) }
	defer func() { testHookParse = nil }()

	dir := t.TempDir()
	// A safetensors start whose header is broken: Detect names it, the
	// parser would refuse it.
	bad := append([]byte{20, 0, 0, 0, 0, 0, 0, 0}, `{"w":{"dtype":"F32",}`...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), bad, 0o600))
	a, err := verify.NewAllowlist(verify.NewEntry("other.safetensors", verify.SHA256, verify.Digest{1}))
	require.NoError(t, err)
	_, err = Open(context.Background(), dir, WithAllowlist(a))
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "%v", err)
	assert.Empty(t, events, "nothing was parsed")

	hdr := `{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`
	good := append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr+"\x01"...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), good, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("# m\n"), 0o600))
	rv := &recordingVerifier{events: &events}
	m, err := Open(context.Background(), dir, WithSignatureVerifier(rv))
	require.NoError(t, err)
	defer m.Close()
	assert.Equal(t, []string{"signature", "parse model.safetensors"}, events)
	assert.Equal(t, 2, rv.files, "every file of the model was hashed for the signature")
	require.Len(t, m.Verified.Digests, 2)
	require.NotNil(t, m.Files[0].SHA256, "the digest the check computed is kept")
	assert.Equal(t, rv.seen["model.safetensors"], m.Files[0].SHA256[:], "the loaded file's digest is the one the signature saw")
	assert.Equal(t, m.Files[0].SHA256, m.Verified.Digests[1].SHA256)
}
