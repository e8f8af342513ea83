package signature_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify/signature"
)

const (
	testIssuer = "https://accounts.example.com"
	testSAN    = "https://github.com/acme/models/.github/workflows/release.yml@refs/heads/main"
)

// entityBundle serializes one of VirtualSigstore's test entities as a
// bundle, as cosign or model_signing would write it.
func entityBundle(t testing.TB, vs *ca.VirtualSigstore, e *ca.TestEntity, keepTlog bool) []byte {
	vc, err := e.VerificationContent()
	require.NoError(t, err)
	cert := vc.(*bundle.Certificate).Certificate()
	pb := &protobundle.Bundle{
		// v0.1: VirtualSigstore's entries carry a signed entry timestamp
		// but no inclusion proof, which later versions require.
		MediaType: "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{
				Certificates: []*protocommon.X509Certificate{{RawBytes: cert.Raw}}}},
		},
	}
	if keepTlog {
		entries, err := e.TlogEntries()
		require.NoError(t, err)
		for _, te := range entries {
			pb.VerificationMaterial.TlogEntries = append(pb.VerificationMaterial.TlogEntries, logEntry(t, vs, te))
		}
	} else {
		pb.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{}
	}
	sc, err := e.SignatureContent()
	require.NoError(t, err)
	if env := sc.EnvelopeContent(); env != nil {
		raw := env.RawEnvelope()
		payload, err := base64.StdEncoding.DecodeString(raw.Payload)
		require.NoError(t, err)
		sig, err := base64.StdEncoding.DecodeString(raw.Signatures[0].Sig)
		require.NoError(t, err)
		pb.Content = &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{Payload: payload, PayloadType: raw.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: sig}}}}
	} else {
		ms := sc.MessageSignatureContent()
		pb.Content = &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: ms.Digest()},
			Signature:     ms.Signature(),
		}}
	}
	b, err := protojson.Marshal(pb)
	require.NoError(t, err)
	return b
}

// logEntry completes the entry VirtualSigstore made with what a bundle
// carries: its kind and version, and the log's signed entry timestamp.
func logEntry(t testing.TB, vs *ca.VirtualSigstore, te *tlog.Entry) *protorekor.TransparencyLogEntry {
	tle := proto.Clone(te.TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
	var kv struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	require.NoError(t, json.Unmarshal(tle.CanonicalizedBody, &kv))
	tle.KindVersion = &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion}
	set, err := vs.RekorSignPayload(tlog.RekorPayload{
		Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime,
		LogIndex: tle.LogIndex, LogID: hex.EncodeToString(tle.LogId.KeyId),
	})
	require.NoError(t, err)
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return tle
}

func virtual(t testing.TB) *ca.VirtualSigstore {
	vs, err := ca.NewVirtualSigstore()
	require.NoError(t, err)
	return vs
}

// noCT is a VirtualSigstore without CT logs: its leaf certificates carry
// no SCTs, and modelgate requires one whenever the root has a CT log.
type noCT struct{ *ca.VirtualSigstore }

func (noCT) CTLogs() map[string]*root.TransparencyLog { return nil }

func writeT(t testing.TB, p string, b []byte) string {
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// TestVirtualSigstoreSingleFile signs a file keyless with an offline
// Sigstore (CA, log, CT) and refuses each way the evidence can be wrong.
func TestVirtualSigstoreSingleFile(t *testing.T) {
	vs := virtual(t)
	dir := t.TempDir()
	model := writeT(t, filepath.Join(dir, "model.safetensors"), []byte("weights"))
	other := writeT(t, filepath.Join(dir, "other.safetensors"), []byte("other weights"))
	e, err := vs.Sign(testSAN, testIssuer, []byte("weights"))
	require.NoError(t, err)
	good := entityBundle(t, vs, e, true)
	check := func(bundleJSON []byte, path string, opts ...signature.Option) (string, error) {
		bp := writeT(t, filepath.Join(t.TempDir(), "b.json"), bundleJSON)
		v, err := signature.NewVerifier(append([]signature.Option{signature.WithTrustedMaterial(noCT{vs}), signature.WithBundleFile(bp)}, opts...)...)
		require.NoError(t, err)
		return v.VerifyPath(context.Background(), path)
	}
	signer, err := check(good, model, signature.WithIdentity(testIssuer, testSAN, ""))
	require.NoError(t, err)
	assert.Contains(t, signer, testSAN)

	_, err = check(good, model, signature.WithIdentity(testIssuer, "", `https://github\.com/acme/.*`))
	require.NoError(t, err, "a regexp identity")
	_, err = check(good, model, signature.WithIdentity(testIssuer, "", `github\.com/acme`))
	assert.Equal(t, formats.KindIdentityMismatch, formats.KindOf(err), "regexps are anchored: a match inside the SAN is not enough")
	_, err = check(good, model, signature.WithIdentity("https://evil.example.com", testSAN, ""))
	assert.Equal(t, formats.KindIdentityMismatch, formats.KindOf(err), "wrong issuer")
	_, err = check(good, model, signature.WithIdentity(testIssuer, testSAN+"x", ""))
	assert.Equal(t, formats.KindIdentityMismatch, formats.KindOf(err), "wrong subject")

	_, err = check(good, other, signature.WithIdentity(testIssuer, testSAN, ""))
	assert.Contains(t, []formats.Kind{formats.KindDigestMismatch, formats.KindSignatureInvalid}, formats.KindOf(err), "bundle for another file: %v", err)

	var tampered map[string]any
	require.NoError(t, json.Unmarshal(good, &tampered))
	ms := tampered["messageSignature"].(map[string]any)
	sig, _ := base64.StdEncoding.DecodeString(ms["signature"].(string))
	sig[len(sig)-3] ^= 0x40
	ms["signature"] = base64.StdEncoding.EncodeToString(sig)
	tb, _ := json.Marshal(tampered)
	_, err = check(tb, model, signature.WithIdentity(testIssuer, testSAN, ""))
	assert.Equal(t, formats.KindSignatureInvalid, formats.KindOf(err), "tampered signature: %v", err)

	_, err = check(entityBundle(t, vs, e, false), model, signature.WithIdentity(testIssuer, testSAN, ""))
	assert.Equal(t, formats.KindSignatureInvalid, formats.KindOf(err), "log entry removed: %v", err)

	// A log time after the short-lived certificate expired: the certificate
	// was not valid when the log saw the signature.
	late, err := vs.SignAtTime(testSAN, testIssuer, []byte("weights"), time.Now().Add(time.Hour))
	require.NoError(t, err)
	_, err = check(entityBundle(t, vs, late, true), model, signature.WithIdentity(testIssuer, testSAN, ""))
	assert.Equal(t, formats.KindSignatureInvalid, formats.KindOf(err), "expired certificate: %v", err)

	_, err = check(good, model, signature.WithPublicKey("k", mustKey(t)))
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "a keyless bundle with only keys allowed")
}

// omsStatement builds model_signing's v1.0 statement for files.
func omsStatement(name string, files map[string][]byte) []byte {
	res := map[string]string{}
	type r struct {
		Name      string `json:"name"`
		Algorithm string `json:"algorithm"`
		Digest    string `json:"digest"`
	}
	for n, b := range files {
		s := sha256.Sum256(b)
		res[n] = hex.EncodeToString(s[:])
	}
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	sortStrings(names)
	// The resources in the order the root digest covers them, as
	// model_signing lists them.
	var resources []r
	h := sha256.New()
	for _, n := range names {
		resources = append(resources, r{n, "sha256", res[n]})
		d, _ := hex.DecodeString(res[n])
		h.Write(d)
	}
	st := map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": name, "digest": map[string]string{"sha256": hex.EncodeToString(h.Sum(nil))}}},
		"predicateType": signature.PredicateOMSv1,
		"predicate": map[string]any{
			"serialization": map[string]any{"method": "files", "hash_type": "sha256", "allow_symlinks": false, "ignore_paths": []string{"model.sig"}},
			"resources":     resources,
		},
	}
	b, _ := json.Marshal(st)
	return b
}

// TestVirtualSigstoreOMS signs a model directory keyless in the
// model_signing format and refuses a changed, added or removed file.
func TestVirtualSigstoreOMS(t *testing.T) {
	vs := virtual(t)
	files := map[string][]byte{"model.safetensors": []byte("w1"), "config.json": []byte("{}"), "sub/tokenizer.json": []byte("tok")}
	e, err := vs.Attest(testSAN, testIssuer, omsStatement("model", files))
	require.NoError(t, err)
	b := entityBundle(t, vs, e, true)
	mk := func() string {
		dir := t.TempDir()
		for n, c := range files {
			writeT(t, filepath.Join(dir, filepath.FromSlash(n)), c)
		}
		writeT(t, filepath.Join(dir, "model.sig"), b)
		return dir
	}
	v, err := signature.NewVerifier(signature.WithTrustedMaterial(noCT{vs}), signature.WithIdentity(testIssuer, testSAN, ""))
	require.NoError(t, err)
	signer, err := v.VerifyPath(context.Background(), mk())
	require.NoError(t, err)
	assert.Contains(t, signer, testSAN)

	for name, change := range map[string]func(dir string){
		"flipped byte": func(dir string) { writeT(t, filepath.Join(dir, "model.safetensors"), []byte("w2")) },
		"added file":   func(dir string) { writeT(t, filepath.Join(dir, "extra.bin"), []byte("x")) },
		"removed file": func(dir string) { require.NoError(t, os.Remove(filepath.Join(dir, "config.json"))) },
		"renamed file": func(dir string) {
			require.NoError(t, os.Rename(filepath.Join(dir, "config.json"), filepath.Join(dir, "config2.json")))
		},
		"swapped files": func(dir string) {
			writeT(t, filepath.Join(dir, "config.json"), []byte("tok"))
			writeT(t, filepath.Join(dir, "sub/tokenizer.json"), []byte("{}"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := mk()
			change(dir)
			_, err := v.VerifyPath(context.Background(), dir)
			assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), "%v", err)
		})
	}
	t.Run("symlink out", func(t *testing.T) {
		dir := mk()
		require.NoError(t, os.Symlink("/etc/hostname", filepath.Join(dir, "link")))
		_, err := v.VerifyPath(context.Background(), dir)
		assert.Equal(t, formats.KindPathTraversal, formats.KindOf(err))
	})
	t.Run("traversal in manifest", func(t *testing.T) {
		bad := map[string][]byte{"../outside": []byte("x")}
		e, err := vs.Attest(testSAN, testIssuer, omsStatement("model", bad))
		require.NoError(t, err)
		dir := t.TempDir()
		writeT(t, filepath.Join(dir, "model.sig"), entityBundle(t, vs, e, true))
		_, err = v.VerifyPath(context.Background(), dir)
		assert.Equal(t, formats.KindPathTraversal, formats.KindOf(err), "%v", err)
	})
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

func mustKey(t testing.TB) any {
	k, err := ecdsaKey()
	require.NoError(t, err)
	return k
}
