package signature

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/testvectors"
	"github.com/modelgate/modelgate/verify"
)

// FuzzBundle parses bundles and model_signing statements: no input may
// panic, and every refusal has a known kind.
func FuzzBundle(f *testing.F) {
	n := 0
	root, _ := testvectors.Root()
	for _, glob := range []string{
		"model-transparency/scripts/tests/*/model.sig",
		"model-transparency/oms-spec/test-vectors/v1.0/*/*.json",
		"sigstore/conformance/*/bundle.sigstore.json",
	} {
		files, _ := filepath.Glob(filepath.Join(root, glob))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
				n++
			}
		}
	}
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AA=="}]}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"00"}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":{"method":"shards","hash_type":"sha256","shard_size":8.0},"resources":[{"name":"a:0:8","algorithm":"sha256-sharded-8","digest":"` + verify.Digest{}.String() + `"}]}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"00"}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":{"method":"files","hash_type":"blake2b"},"resources":[{"name":"a","algorithm":"blake2b","digest":"` + verify.Digest{}.String() + verify.Digest{}.String() + `"},{"name":"a/b:10:20","algorithm":"blake2b","digest":"00"}]}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"ML_DSA_65:00"},"tlogEntries":[]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AA==","keyid":""}]}}`))
	n += 4
	if n < 2 {
		f.Fatal("empty seed corpus")
	}
	known := []formats.Kind{formats.KindSignatureInvalid, formats.KindUnsupported, formats.KindPathTraversal, formats.KindLimitExceeded, formats.KindMalformed}
	f.Fuzz(func(t *testing.T, b []byte) {
		rb, err := parseBundle(b)
		if err != nil {
			require.Contains(t, known, formats.KindOf(err), "%v", err)
		} else if rb.DSSEEnvelope != nil {
			_, _ = parseStatement(rb)
			_ = rb.isModelSigning()
			_ = rb.isMLDSA()
		}
		st := &rawBundle{payload: b}
		st.decodeStatement()
		m, err := parseStatement(st)
		if err != nil {
			require.Contains(t, known, formats.KindOf(err), "%v", err)
			return
		}
		_ = rootDigest(m.order, m.resources)
		require.Len(t, canonicalOrder(m.order, m.method == "shards"), len(m.order))
		_ = compareResources(m.resources, map[string]string{})
	})
}
