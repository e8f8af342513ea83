package verify_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
)

// FuzzParsers feeds the same bytes to the policy, sha256sum and LFS
// parsers: none may panic, and each refusal has a known kind.
func FuzzParsers(f *testing.F) {
	h := strings.Repeat("a", 64)
	seeds := []string{
		"formats: [safetensors]\nlimits: {max_file_bytes: 1GiB}\n",
		"digests: [{name: m, sha256: " + h + "}]\nrequire: [digest]\n",
		"signatures: {identities: [{issuer: i, subject_regexp: '^a$'}]}\nrequire: [signature]\n",
		h + "  model.safetensors\n" + `\` + h + `  a\nb` + "\nSHA256 (x) = " + h + "\n",
		"version https://git-lfs.github.com/spec/v1\noid sha256:" + h + "\nsize 12\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		known := func(err error) {
			if err != nil {
				k := formats.KindOf(err)
				require.Contains(t, []formats.Kind{formats.KindMalformed, formats.KindPathTraversal, formats.KindIO, formats.KindUsage}, k, "%v", err)
			}
		}
		p, err := verify.ParsePolicy(b, t.TempDir())
		known(err)
		if err == nil {
			a, err := p.AllowlistFor(t.TempDir())
			require.False(t, err == nil && p.Requires(verify.RequireDigest) && a.Len() == 0)
		}
		for _, a := range []verify.Algorithm{verify.SHA256, verify.BLAKE3} {
			_, err = verify.ParseSums(strings.NewReader(string(b)), a)
			known(err)
		}
		_, _, err = verify.ParseLFSPointer(strings.NewReader(string(b)))
		known(err)
	})
}
