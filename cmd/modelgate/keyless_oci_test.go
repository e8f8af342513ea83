//go:build !modelgate_lean

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	ocilayout "oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/modelgate/modelgate/internal/testregistry"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/loader/oci"
	"github.com/modelgate/modelgate/verify/signature"
)

const (
	keylessIssuer = "https://token.actions.githubusercontent.com"
	keylessSAN    = "https://github.com/acme/models/.github/workflows/release.yml@refs/heads/main"
	evilSAN       = "https://github.com/evil/models/.github/workflows/release.yml@refs/heads/main"
	otherIssuer   = "https://accounts.example.com"
)

// keylessRoot writes the VirtualSigstore's CA, log and timestamping
// authority as a trusted_root.json (no CT log: its leaf certificates
// carry no SCTs), the file --trusted-root reads.
func keylessRoot(t testing.TB, vs *ca.VirtualSigstore) string {
	t.Helper()
	logs := map[string]*root.TransparencyLog{}
	for id, tl := range vs.RekorLogs() {
		raw, err := hex.DecodeString(id) // VirtualSigstore keeps the log ID as hex text
		require.NoError(t, err)
		c := *tl
		c.ID = raw
		logs[id] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), nil, vs.TimestampingAuthorities(), logs)
	require.NoError(t, err)
	b, err := tr.MarshalJSON()
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// keylessEntity writes one of VirtualSigstore's signed entities as a
// v0.1 bundle (certificate, log entry with its signed entry timestamp,
// and a message signature or DSSE envelope), as cosign and model_signing
// write theirs.
func keylessEntity(t testing.TB, vs *ca.VirtualSigstore, e *ca.TestEntity) []byte {
	t.Helper()
	vc, err := e.VerificationContent()
	require.NoError(t, err)
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{
				Certificates: []*protocommon.X509Certificate{{RawBytes: vc.(*bundle.Certificate).Certificate().Raw}}}},
		},
	}
	entries, err := e.TlogEntries()
	require.NoError(t, err)
	for _, te := range entries {
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
		pb.VerificationMaterial.TlogEntries = append(pb.VerificationMaterial.TlogEntries, tle)
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
	out, err := protojson.Marshal(pb)
	require.NoError(t, err)
	return out
}

// keylessManifestBundle signs b (a manifest's bytes) keyless, as cosign
// sign --new-bundle-format does: a message signature over sha256(b).
func keylessManifestBundle(t testing.TB, vs *ca.VirtualSigstore, san, issuer string, b []byte) []byte {
	t.Helper()
	e, err := vs.Sign(san, issuer, b)
	require.NoError(t, err)
	return keylessEntity(t, vs, e)
}

// keylessFilesBundle signs files keyless in model_signing's v1.0 format
// (a DSSE in-toto statement listing each file's SHA-256, model.sig left
// out), as model_signing sign sigstore writes model.sig.
func keylessFilesBundle(t testing.TB, vs *ca.VirtualSigstore, san, issuer string, files map[string][]byte) []byte {
	t.Helper()
	type resource struct {
		Name      string `json:"name"`
		Algorithm string `json:"algorithm"`
		Digest    string `json:"digest"`
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var resources []resource
	root := sha256.New()
	for _, n := range names {
		s := sha256.Sum256(files[n])
		resources = append(resources, resource{n, "sha256", hex.EncodeToString(s[:])})
		root.Write(s[:])
	}
	st, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "model", "digest": map[string]string{"sha256": hex.EncodeToString(root.Sum(nil))}}},
		"predicateType": signature.PredicateOMSv1,
		"predicate": map[string]any{
			"serialization": map[string]any{"method": "files", "hash_type": "sha256", "allow_symlinks": false, "ignore_paths": []string{"model.sig"}},
			"resources":     resources,
		},
	})
	require.NoError(t, err)
	e, err := vs.Attest(san, issuer, st)
	require.NoError(t, err)
	return keylessEntity(t, vs, e)
}

// attachReferrer pushes b as a Sigstore bundle referrer of the manifest
// md in dst, by digest and untagged, as cosign --new-bundle-format and
// oras attach push theirs.
func attachReferrer(t testing.TB, dst oras.Target, md string, b []byte) {
	t.Helper()
	ctx := context.Background()
	subject, err := dst.Resolve(ctx, md)
	require.NoError(t, err)
	push := func(d ocispec.Descriptor, b []byte) {
		if ok, err := dst.Exists(ctx, d); err != nil || !ok {
			require.NoError(t, dst.Push(ctx, d, bytes.NewReader(b)))
		}
	}
	if r, ok := dst.(*remote.Repository); ok {
		// The registry refuses DELETE: a second referrer must leave the
		// first one's referrers-tag index in place.
		r.SkipReferrersGC = true
	}
	layer := content.NewDescriptorFromBytes(oci.ArtifactTypeSigstoreBundle, b)
	push(layer, b)
	_, err = oras.PackManifest(ctx, dst, oras.PackManifestVersion1_1, oci.ArtifactTypeSigstoreBundle, oras.PackManifestOptions{
		Layers:  []ocispec.Descriptor{layer},
		Subject: &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
	})
	require.NoError(t, err)
}

// manifestBytes returns the manifest md's bytes in dst.
func manifestBytes(t testing.TB, dst oras.Target, md string) []byte {
	t.Helper()
	ctx := context.Background()
	d, err := dst.Resolve(ctx, md)
	require.NoError(t, err)
	b, err := content.FetchAll(ctx, dst, d)
	require.NoError(t, err)
	return b
}

// verifyJSON runs verify --json and returns the exit code and the
// refusal's kind ("" when accepted).
func verifyJSON(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, out, errs := cliRun(append([]string{"verify", "--json"}, args...)...)
	var res struct {
		OK    bool `json:"ok"`
		Error struct{ Kind string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), "%s\n%s", out, errs)
	return code, res.Error.Kind
}

// keylessTarget is where the keyless tests push: the real registry
// (oci://) or an image layout (oci-layout:).
type keylessTarget struct {
	name  string
	dst   oras.Target
	scope string // the repository or layout, as scan takes it
}

// ref names tag in the target, as verify takes it.
func (k keylessTarget) ref(tag string) string { return k.scope + ":" + tag }

func keylessTargets(t *testing.T, repo string) []keylessTarget {
	r := testregistry.Start(t)
	r.DockerConfig(t, r.Host)
	dir := filepath.Join(t.TempDir(), "layout")
	store, err := ocilayout.New(dir)
	require.NoError(t, err)
	return []keylessTarget{
		{"registry", r.Repository(t, repo), "oci://" + r.Host + "/" + repo},
		{"layout", store, "oci-layout:" + dir},
	}
}

// Keyless cosign signatures of the manifest, from the CLI: verify and
// scan with --identity, --issuer and --trusted-root (a trusted_root.json
// of an offline VirtualSigstore) accept the allowed signer's referrer,
// and refuse another identity or issuer (identity-mismatch), a bundle
// over another manifest's bytes (signature-invalid), no signature
// (not-allowlisted) and a signer the trusted root does not know
// (signature-invalid), over a registry and an image layout alike.
func TestKeylessManifestSignatureFromTheCLI(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	require.NoError(t, err)
	trusted := keylessRoot(t, vs)
	stranger, err := ca.NewVirtualSigstore()
	require.NoError(t, err)
	flags := []string{"--identity", keylessSAN, "--issuer", keylessIssuer, "--trusted-root", trusted}
	for _, k := range keylessTargets(t, "keyless/manifest") {
		t.Run(k.name, func(t *testing.T) {
			want := map[string]string{}
			sign := func(tag, kind string, b func(man []byte) []byte) {
				md := packArtifact(t, k.dst, tag, oci.ArtifactTypeModelPack, ociLayer{rawWeight, stFile(tag), "model.safetensors"})
				if b != nil {
					attachReferrer(t, k.dst, md, b(manifestBytes(t, k.dst, md)))
				}
				want[tag] = kind
			}
			by := func(v *ca.VirtualSigstore, san, issuer string) func([]byte) []byte {
				return func(man []byte) []byte { return keylessManifestBundle(t, v, san, issuer, man) }
			}
			sign("good", "", by(vs, keylessSAN, keylessIssuer))
			sign("evil", "identity-mismatch", by(vs, evilSAN, keylessIssuer))
			sign("issuer", "identity-mismatch", by(vs, keylessSAN, otherIssuer))
			sign("another-digest", "signature-invalid", func(man []byte) []byte {
				return keylessManifestBundle(t, vs, keylessSAN, keylessIssuer, append(bytes.Clone(man), ' '))
			})
			sign("unsigned", "not-allowlisted", nil)
			sign("stranger", "signature-invalid", by(stranger, keylessSAN, keylessIssuer))

			for tag, kind := range want {
				code, got := verifyJSON(t, append(slices.Clone(flags), k.ref(tag))...)
				assert.Equal(t, kind, got, tag)
				assert.Equal(t, map[bool]int{true: 0, false: 1}[kind == ""], code, tag)
			}
			code, _, errs := cliRun("verify", "--identity-regexp", `https://github\.com/acme/.*`, "--issuer", keylessIssuer, "--trusted-root", trusted, k.ref("good"))
			assert.Equal(t, 0, code, errs)
			code, kind := verifyJSON(t, "--identity-regexp", `https://github\.com/acme/.*`, "--issuer", keylessIssuer, "--trusted-root", trusted, k.ref("evil"))
			assert.Equal(t, []any{1, "identity-mismatch"}, []any{code, kind})

			// scan gates every tag with the same signer flags.
			code, res := runScanJSON(t, append(slices.Clone(flags), k.scope)...)
			assert.Equal(t, 1, code)
			got := map[string]string{}
			for _, r := range res.Files {
				if r.Verdict == loader.Ignored {
					// A registry without the referrers API gets oras-go's
					// fallback: an index tagged sha256-HEX, a signature.
					assert.Regexp(t, `^sha256-[0-9a-f]{64}$`, r.Tag)
					continue
				}
				got[r.Tag] = string(r.Kind)
			}
			assert.Equal(t, want, got)
		})
	}
}

// A keyless model_signing bundle (DSSE statement of the files, Fulcio
// certificate, log entry) carried by the artifact, as a referrer or as a
// model.sig layer, verifies the unpacked files from the CLI with
// --oci-signatures files and the signer flags. Refused: another identity
// or issuer (identity-mismatch), a statement of other bytes or missing a
// file (digest-mismatch), no files signature or only a manifest one
// (not-allowlisted), and a files bundle where a manifest signature is
// required (not-allowlisted).
func TestKeylessFilesSignatureInArtifactFromTheCLI(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	require.NoError(t, err)
	trusted := keylessRoot(t, vs)
	flags := []string{"--identity", keylessSAN, "--issuer", keylessIssuer, "--trusted-root", trusted}
	const (
		asReferrer = iota // the files bundle is a referrer
		asLayer           // a Sigstore bundle layer
		asDoc             // model.sig, a ModelPack doc layer
		none
	)
	for _, k := range keylessTargets(t, "keyless/files") {
		t.Run(k.name, func(t *testing.T) {
			for _, c := range []struct {
				tag         string
				san, issuer string // who signs the files
				carried     int
				otherBytes  bool // the statement lists other bytes
				extraFile   bool // the artifact holds a file the statement does not list
				manifest    bool // a keyless manifest signature too
				signatures  string
				kind        string
			}{
				{"referrer", keylessSAN, keylessIssuer, asReferrer, false, false, false, "files", ""},
				{"layer", keylessSAN, keylessIssuer, asLayer, false, false, false, "files", ""},
				{"model-sig-file", keylessSAN, keylessIssuer, asDoc, false, false, false, "files", ""},
				{"both", keylessSAN, keylessIssuer, asReferrer, false, false, true, "manifest,files", ""},
				{"evil", evilSAN, keylessIssuer, asReferrer, false, false, false, "files", "identity-mismatch"},
				{"evil-layer", evilSAN, keylessIssuer, asLayer, false, false, false, "files", "identity-mismatch"},
				{"issuer", keylessSAN, otherIssuer, asReferrer, false, false, false, "files", "identity-mismatch"},
				{"other-bytes", keylessSAN, keylessIssuer, asReferrer, true, false, false, "files", "digest-mismatch"},
				{"extra-file", keylessSAN, keylessIssuer, asReferrer, false, true, false, "files", "digest-mismatch"},
				{"manifest-only", keylessSAN, keylessIssuer, none, false, false, true, "files", "not-allowlisted"},
				{"unsigned", keylessSAN, keylessIssuer, none, false, false, false, "files", "not-allowlisted"},
				{"files-for-manifest", keylessSAN, keylessIssuer, asReferrer, false, false, false, "manifest", "not-allowlisted"},
				{"files-for-both", keylessSAN, keylessIssuer, asReferrer, false, false, false, "manifest,files", "not-allowlisted"},
			} {
				// Each case's README (its tag) keeps its manifest apart.
				weights, readme := stFile("w"), []byte(c.tag)
				layers := []ociLayer{{rawWeight, weights, "m.safetensors"}, {"application/vnd.cncf.model.doc.v1.raw", readme, "README.md"}}
				listed := map[string][]byte{"m.safetensors": weights, "README.md": readme}
				if c.otherBytes {
					listed["m.safetensors"] = stFile("v")
				}
				if c.extraFile {
					layers = append(layers, ociLayer{rawWeight, stFile("x"), "x.safetensors"})
				}
				bundle := keylessFilesBundle(t, vs, c.san, c.issuer, listed)
				switch c.carried {
				case asLayer:
					layers = append(layers, ociLayer{oci.ArtifactTypeSigstoreBundle, bundle, "model.sig"})
				case asDoc:
					layers = append(layers, ociLayer{"application/vnd.cncf.model.doc.v1.raw", bundle, "model.sig"})
				}
				md := packArtifact(t, k.dst, c.tag, oci.ArtifactTypeModelPack, layers...)
				if c.carried == asReferrer {
					attachReferrer(t, k.dst, md, bundle)
				}
				if c.manifest {
					attachReferrer(t, k.dst, md, keylessManifestBundle(t, vs, keylessSAN, keylessIssuer, manifestBytes(t, k.dst, md)))
				}
				t.Run(c.tag, func(t *testing.T) {
					code, kind := verifyJSON(t, append(slices.Clone(flags), "--oci-signatures", c.signatures, k.ref(c.tag))...)
					assert.Equal(t, c.kind, kind)
					assert.Equal(t, map[bool]int{true: 0, false: 1}[c.kind == ""], code)
				})
			}
		})
	}
}
