package oci_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader/oci"
	"github.com/modelgate/modelgate/verify/signature"
)

const (
	keylessIssuer = "https://token.actions.githubusercontent.com"
	keylessSAN    = "https://github.com/acme/models/.github/workflows/release.yml@refs/heads/main"
)

// trustedRootFile writes the VirtualSigstore's CA, log and timestamping
// authority as a trusted_root.json, as a private Sigstore instance
// publishes it, and returns its path. It lists no CT log: the
// VirtualSigstore's leaf certificates carry no SCTs, and modelgate
// requires one whenever the root has a CT log.
func trustedRootFile(t testing.TB, vs *ca.VirtualSigstore) string {
	t.Helper()
	// VirtualSigstore keeps each log's ID as its hex text; a trusted root
	// holds the raw key ID, which verifiers hex-encode again.
	logs := map[string]*root.TransparencyLog{}
	for id, tl := range vs.RekorLogs() {
		raw, err := hex.DecodeString(id)
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

// keylessBundle signs b keyless with the offline VirtualSigstore (a
// Fulcio-like CA issuing san/issuer a short-lived certificate, and a
// Rekor-like log entry with its signed entry timestamp), as cosign sign
// --new-bundle-format writes the bundle of a manifest: a message
// signature over sha256(b), the manifest digest.
func keylessBundle(t testing.TB, vs *ca.VirtualSigstore, san, issuer string, b []byte) []byte {
	t.Helper()
	e, err := vs.Sign(san, issuer, b)
	require.NoError(t, err)
	vc, err := e.VerificationContent()
	require.NoError(t, err)
	pb := &protobundle.Bundle{
		// v0.1: VirtualSigstore's entries carry a signed entry timestamp
		// but no inclusion proof, which later versions require.
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
	ms := sc.MessageSignatureContent()
	pb.Content = &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
		MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: ms.Digest()},
		Signature:     ms.Signature(),
	}}
	out, err := protojson.Marshal(pb)
	require.NoError(t, err)
	return out
}

// Keyless cosign signatures of the manifest (Fulcio certificate and
// Rekor entry in a bundle), pushed to a real registry as referrers of the
// manifest as cosign --new-bundle-format pushes them (by digest, subject
// the manifest), verify offline against the allowed identity and issuer
// and a trusted root; the wrong identity or issuer is identity-mismatch,
// a bundle over another digest signature-invalid.
func TestRegistryKeylessSignature(t *testing.T) {
	r := startRegistry(t)
	r.dockerConfig(t, r.host)
	vs, err := ca.NewVirtualSigstore()
	require.NoError(t, err)
	trusted := trustedRootFile(t, vs)
	verifier := func(issuer, san string) *signature.Verifier {
		v, err := signature.NewVerifier(signature.WithTrustedRootFile(trusted), signature.WithIdentity(issuer, san, ""))
		require.NoError(t, err)
		return v
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		san, issuer string // who signs
		another     bool   // sign another manifest's bytes
		v           *signature.Verifier
		kind        formats.Kind
	}{
		{"allowed identity", keylessSAN, keylessIssuer, false, verifier(keylessIssuer, keylessSAN), ""},
		{"allowed by regexp", keylessSAN, keylessIssuer, false, nil, ""},
		{"another identity", "https://github.com/evil/models/.github/workflows/release.yml@refs/heads/main", keylessIssuer, false, verifier(keylessIssuer, keylessSAN), formats.KindIdentityMismatch},
		{"another issuer", keylessSAN, "https://accounts.example.com", false, verifier(keylessIssuer, keylessSAN), formats.KindIdentityMismatch},
		{"bundle over another digest", keylessSAN, keylessIssuer, true, verifier(keylessIssuer, keylessSAN), formats.KindSignatureInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if v == nil {
				var err error
				v, err = signature.NewVerifier(signature.WithTrustedRootFile(trusted), signature.WithIdentity(keylessIssuer, "", `https://github\.com/acme/.*`))
				require.NoError(t, err)
			}
			repo := "keyless/" + sanitize(tc.name)
			a := newModelPack()
			a.raw("m.safetensors", safetensors("w"))
			md := r.push(t, a, repo, "v1")
			signed := a.blobs[md]
			if tc.another {
				signed = append(bytes.Clone(signed), ' ')
			}
			r.pushReferrer(t, repo, a.referrer(t, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: int64(len(a.blobs[md]))},
				keylessBundle(t, vs, tc.san, tc.issuer, signed)), a)
			m, err := oci.Open(ctx, "oci://"+r.host+"/"+repo+":v1", oci.WithSignatureVerifier(v))
			if tc.kind != "" {
				assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
				return
			}
			require.NoError(t, err)
			defer m.Close()
			assert.Contains(t, m.Signer, keylessSAN)
			sum := sha256.Sum256(a.blobs[md])
			assert.Equal(t, md.Encoded(), hex.EncodeToString(sum[:]))
		})
	}
}

// pushReferrer pushes the manifest desc (a referrer) and the blobs it
// names to repo by digest, with no tag, as cosign pushes its referrers;
// the registry indexes it under its subject.
func (r *registry) pushReferrer(t *testing.T, repo string, desc ocispec.Descriptor, a *artifact) {
	t.Helper()
	ctx := context.Background()
	dst, err := remote.NewRepository(r.host + "/" + repo)
	require.NoError(t, err)
	dst.PlainHTTP = true
	dst.Client = &auth.Client{Client: retry.DefaultClient, Cache: auth.NewCache(),
		Credential: auth.StaticCredential(r.host, auth.Credential{Username: r.user, Password: r.pass})}
	var man ocispec.Manifest
	require.NoError(t, json.Unmarshal(a.blobs[desc.Digest], &man))
	for _, d := range append([]ocispec.Descriptor{man.Config}, man.Layers...) {
		if err := dst.Push(ctx, d, bytes.NewReader(a.blobs[d.Digest])); err != nil {
			require.ErrorContains(t, err, "exist")
		}
	}
	require.NoError(t, dst.Push(ctx, desc, bytes.NewReader(a.blobs[desc.Digest])))
}

// sanitize makes a test name a repository name component: lower case
// letters and digits, separated by single dashes.
func sanitize(s string) string {
	var out []byte
	for _, c := range []byte(strings.ToLower(s)) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			out = append(out, c)
		} else if len(out) > 0 && out[len(out)-1] != '-' {
			out = append(out, '-')
		}
	}
	return strings.TrimSuffix(string(out), "-")
}
