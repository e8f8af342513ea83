package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/content"
)

// VerifyModel checks the signature of a model whose files' digests the
// loader computed (it implements loader.SignatureVerifier). A
// model_signing bundle is checked file by file against the manifest
// recomputed from md; any other bundle must be for a single file and sign
// its SHA-256. It returns the signer: an identity, a key or a certificate.
func (v *SignatureVerifier) VerifyModel(ctx context.Context, md *ModelDigests) (string, error) {
	bundlePath := v.findBundle(md)
	b, err := readLimited(bundlePath)
	if err != nil {
		return "", err
	}
	rb, err := parseBundle(b)
	if err != nil {
		return "", formats.WithPath(err, bundlePath)
	}
	if rb.DSSEEnvelope != nil && isModelSigning(rb.payload) {
		return v.verifyOMS(ctx, rb, md, bundlePath)
	}
	if !md.Single || len(md.Files) != 1 {
		return "", formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, "bundle %s is not a model_signing bundle, so it can sign one file only", bundlePath)
	}
	d := md.Files[0].SHA256
	return v.verifyBundle(rb, "sha256", d[:], nil)
}

// VerifyPath hashes the model at path (a file or directory, refusing
// symbolic links) and checks its signature, without parsing any file.
func (v *SignatureVerifier) VerifyPath(ctx context.Context, path string) (string, error) {
	md, err := DigestModel(ctx, path)
	if err != nil {
		return "", err
	}
	return v.VerifyModel(ctx, md)
}

// VerifyDigest checks a bundle over an artifact known only by its digest
// ("sha256:HEX" in sigstore-conformance's client protocol).
func (v *SignatureVerifier) VerifyDigest(algorithm string, digest []byte) (string, error) {
	if v.bundle == "" {
		return "", formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, "verifying a bare digest needs the bundle's path")
	}
	b, err := readLimited(v.bundle)
	if err != nil {
		return "", err
	}
	rb, err := parseBundle(b)
	if err != nil {
		return "", formats.WithPath(err, v.bundle)
	}
	return v.verifyBundle(rb, algorithm, digest, nil)
}

// DigestModel hashes every file of a model directory (or the one file).
func DigestModel(ctx context.Context, path string) (*ModelDigests, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	if !st.IsDir() {
		fd, err := HashFiles(ctx, []string{path}, nil)
		if err != nil {
			return nil, err
		}
		fd[0].Name = filepath.Base(path)
		return &ModelDigests{Root: path, Single: true, Files: fd}, nil
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	defer root.Close()
	files, err := HashTree(ctx, root, nil, nil)
	if err != nil {
		return nil, err
	}
	for i := range files {
		if files[i].Inert, err = inertFile(root, files[i].Name); err != nil {
			return nil, err
		}
	}
	return &ModelDigests{Root: path, Files: files}, nil
}

// inertFile reports whether a file's content is inert (formats/content),
// so that an ignore path may leave it out of a manifest.
func inertFile(root *os.Root, name string) (bool, error) {
	f, err := root.Open(name)
	if err != nil {
		return false, formats.WithPath(formats.IOError(formats.NoOffset, err), name)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, formats.WithPath(formats.IOError(formats.NoOffset, err), name)
	}
	id, err := content.Identify(f, st.Size(), name, formats.Limits{})
	return err == nil && id.Role == content.Inert, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, formats.WithPath(formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, "no signature bundle: %w", err), path)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxBundleBytes+1))
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	return b, nil
}

// findBundle: the configured bundle, else model.sig inside a model
// directory (or beside it), else FILE.sig or model.sig beside a single
// file.
func (v *SignatureVerifier) findBundle(md *ModelDigests) string {
	switch {
	case md.Bundle != "":
		return md.Bundle
	case v.bundle != "":
		return v.bundle
	}
	if !md.Single {
		inside := filepath.Join(md.Root, "model.sig")
		if _, err := os.Stat(inside); err != nil {
			if beside := filepath.Join(filepath.Dir(filepath.Clean(md.Root)), "model.sig"); fileExists(beside) {
				return beside
			}
		}
		return inside
	}
	if _, err := os.Stat(md.Root + ".sig"); err == nil {
		return md.Root + ".sig"
	}
	return filepath.Join(filepath.Dir(md.Root), "model.sig")
}

func isModelSigning(payload []byte) bool {
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	return json.Unmarshal(payload, &st) == nil && (st.PredicateType == PredicateOMSv1 || st.PredicateType == PredicateLegacy01)
}

// verifyOMS recomputes the model's manifest in the bundle's
// serialization, verifies the signature over the statement whose subject
// must be the recomputed root digest, then compares the signed resources
// with the model file by file (names are not in the root digest).
func (v *SignatureVerifier) verifyOMS(ctx context.Context, rb *rawBundle, md *ModelDigests, bundlePath string) (string, error) {
	m, err := parseStatement(rb.payload)
	if err != nil {
		return "", err
	}
	ignore := append(append(append([]string{}, DefaultIgnorePaths...), m.ignore...), v.ignore...)
	if rel, err := filepath.Rel(md.Root, bundlePath); err == nil && filepath.IsLocal(rel) {
		ignore = append(ignore, filepath.ToSlash(rel))
	}
	actual, err := actualResources(ctx, md, m, ignore)
	if err != nil {
		return "", err
	}
	// The signature is verified over the statement as signed (its own
	// root digest); then the signed manifest is compared with the model,
	// file by file, and the signed root with the recomputed one.
	var signer string
	if m.legacy {
		signer, err = v.verifyBundle(rb, "", nil, m)
	} else {
		claimed, _ := hex.DecodeString(m.root)
		signer, err = v.verifyBundle(rb, "sha256", claimed, m)
	}
	if err != nil {
		return "", err
	}
	if err := compareResources(m.resources, actual); err != nil {
		return "", err
	}
	if root := rootDigest(actual); !m.legacy && m.root != root {
		return "", formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "signed root digest %s; the model's is %s", m.root, root)
	}
	return signer, nil
}

// verifyBundle verifies rb's signature over the artifact digest (for a
// message signature or an in-toto subject) and returns the signer.
// Bundles with only a public key or a certificate chain, and no log
// evidence, are verified here; the rest by sigstore-go.
func (v *SignatureVerifier) verifyBundle(rb *rawBundle, alg string, digest []byte, m *manifest) (string, error) {
	vm := rb.VerificationMaterial
	switch {
	case vm.X509CertificateChain != nil && !rb.hasLogEvidence() && v.nCAs == 0 && len(v.identities) > 0:
		return "", sigErr("the bundle's certificate comes with no transparency-log entry or timestamp proving when it was signed")
	case vm.X509CertificateChain != nil && !rb.hasLogEvidence():
		return v.verifyChain(rb, alg, digest, m)
	case vm.PublicKey != nil && !rb.hasLogEvidence():
		return v.verifyKey(rb, alg, digest, m)
	}
	return v.verifySigstore(rb, alg, digest)
}

// signedMessage is what the signature covers: DSSE's PAE (model_signing
// 0.2's buggy one for the legacy predicate), or the artifact digest.
func signedMessage(rb *rawBundle, m *manifest) ([]byte, crypto.Hash) {
	if rb.DSSEEnvelope == nil {
		return nil, 0
	}
	if m != nil && m.legacy {
		return legacyPAE(rb.DSSEEnvelope.PayloadType, rb.payload), crypto.SHA256
	}
	return pae(rb.DSSEEnvelope.PayloadType, rb.payload), 0
}

// checkSignature verifies the bundle's signature with pub, and for a
// non-model_signing DSSE statement that the artifact digest is a subject.
func checkSignature(rb *rawBundle, pub crypto.PublicKey, alg string, digest []byte, m *manifest) error {
	msg, h := signedMessage(rb, m)
	if msg == nil { // message signature over the artifact's digest
		md := rb.MessageSignature.MessageDigest
		if md != nil && (!strings.EqualFold(md.Algorithm, strings.ReplaceAll(alg, "sha", "SHA2_")) || md.Digest != b64(digest)) {
			return formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "the bundle signs another artifact")
		}
		return verifyPrehashed(pub, digest, rb.sig)
	}
	if err := verifyRaw(pub, msg, rb.sig, h); err != nil {
		return err
	}
	if m == nil && !statementNames(rb.payload, alg, digest) {
		return formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "the statement does not name this artifact's %s digest", alg)
	}
	return nil
}

func statementNames(payload []byte, alg string, digest []byte) bool {
	var st statement
	if json.Unmarshal(payload, &st) != nil {
		return false
	}
	for _, s := range st.Subject {
		if strings.EqualFold(s.Digest[alg], hex.EncodeToString(digest)) {
			return true
		}
	}
	return false
}

func verifyPrehashed(pub crypto.PublicKey, digest, sig []byte) error {
	sv, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return err
	}
	return sv.VerifySignature(bytes.NewReader(sig), nil, signatureDigest(digest))
}

// verifyKey checks a bundle signed by a bare public key against the
// allowed keys. A key embedded in the bundle is never trusted by itself.
func (v *SignatureVerifier) verifyKey(rb *rawBundle, alg string, digest []byte, m *manifest) (string, error) {
	if len(v.keys) == 0 {
		return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle is signed with a public key, and no key is allowed (--key)")
	}
	candidates := v.keys
	if p := rb.rawKeyPEM(); p != nil {
		pub, err := parsePublicKeyPEM(p)
		if err != nil {
			return "", sigErr("bundle's public key: %v", err)
		}
		der, _ := x509.MarshalPKIXPublicKey(pub)
		candidates = nil
		for _, k := range v.keys {
			if bytes.Equal(k.der, der) {
				candidates = append(candidates, k)
			}
		}
	} else if hint := rb.VerificationMaterial.PublicKey.Hint; hint != "" {
		var byHint []trustedKey
		for _, k := range v.keys {
			for _, h := range k.hints {
				if h == hint {
					byHint = append(byHint, k)
				}
			}
		}
		if len(byHint) > 0 {
			candidates = byHint
		}
	}
	if len(candidates) == 0 {
		return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle's public key is not an allowed key")
	}
	var last error
	for _, k := range candidates {
		if last = checkSignature(rb, k.pub, alg, digest, m); last == nil {
			return "key " + k.name, nil
		}
		if formats.KindOf(last) == formats.KindDigestMismatch {
			return "", last
		}
	}
	return "", sigErr("signature does not verify with the allowed key: %v", last)
}

// verifyChain checks a certificate-chain bundle: the chain must reach an
// allowed CA for code signing, valid now (such bundles carry no log or
// timestamp proving an earlier signing time), and the leaf's key must
// verify the signature.
func (v *SignatureVerifier) verifyChain(rb *rawBundle, alg string, digest []byte, m *manifest) (string, error) {
	if v.nCAs == 0 {
		return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle is signed with a certificate chain, and no CA is allowed (--ca)")
	}
	chain, err := rb.chain()
	if err != nil {
		return "", err
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	leaf := chain[0]
	_, err = leaf.Verify(x509.VerifyOptions{Roots: v.cas, Intermediates: inter, CurrentTime: v.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
	if err != nil {
		var ua x509.UnknownAuthorityError
		if errors.As(err, &ua) {
			return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "certificate chain does not reach an allowed CA: %v", err)
		}
		return "", sigErr("certificate chain: %v", err)
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return "", sigErr("leaf certificate may not sign (no digitalSignature key usage)")
	}
	if err := checkSignature(rb, leaf.PublicKey, alg, digest, m); err != nil {
		if formats.KindOf(err) == formats.KindDigestMismatch {
			return "", err
		}
		return "", sigErr("signature does not verify with the leaf certificate: %v", err)
	}
	return "certificate " + leaf.Subject.String(), nil
}

// verifySigstore hands a bundle with log evidence or a Fulcio certificate
// to sigstore-go: transparency-log inclusion, signed and integrated
// timestamps and SCTs are verified against the trusted root, and the
// certificate identity against the allowed identities.
func (v *SignatureVerifier) verifySigstore(rb *rawBundle, alg string, digest []byte) (string, error) {
	if v.trusted == nil {
		return "", formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, "the bundle needs a Sigstore trusted root (--trusted-root)")
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(rb.raw); err != nil {
		return "", sigErr("bundle: %v", err)
	}
	keyless := rb.VerificationMaterial.Certificate != nil || rb.VerificationMaterial.X509CertificateChain != nil
	tm := v.trusted
	policy := []sgverify.PolicyOption{}
	if keyless {
		if len(v.identities) == 0 {
			return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle is signed keyless, and no identity is allowed (--identity and --issuer)")
		}
		for _, id := range v.identities {
			policy = append(policy, sgverify.WithCertificateIdentity(id))
		}
	} else {
		if len(v.keys) == 0 {
			return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle is signed with a public key, and no key is allowed (--key)")
		}
		tm = root.TrustedMaterialCollection{v.trusted, root.NewTrustedPublicKeyMaterial(v.keyVerifier)}
		policy = append(policy, sgverify.WithKey())
	}
	vopts, err := v.verifierOptions(&b, keyless)
	if err != nil {
		return "", err
	}
	sv, err := sgverify.NewVerifier(tm, vopts...)
	if err != nil {
		return "", sigErr("verifier: %v", err)
	}
	res, err := sv.Verify(&b, sgverify.NewPolicy(sgverify.WithArtifactDigest(alg, digest), policy...))
	if err != nil {
		var nm *sgverify.ErrNoMatchingCertificateIdentity
		if errors.As(err, &nm) {
			return "", formats.Errorf(formats.KindIdentityMismatch, formats.NoOffset, "signed by an identity that is not allowed: %v", err)
		}
		if strings.Contains(err.Error(), "artifact digest") || strings.Contains(err.Error(), "do not match digests in statement") {
			return "", formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "the bundle signs another artifact: %v", err)
		}
		return "", sigErr("%v", err)
	}
	if c := res.Signature.Certificate; c != nil {
		return fmt.Sprintf("%s (issuer %s)", c.SubjectAlternativeName, c.Extensions.Issuer), nil
	}
	return "key (sigstore bundle)", nil
}

// verifierOptions requires what a bundle of this kind must prove, as
// sigstore-go's conformance client (cmd/conformance, verify-bundle) does:
// every signed timestamp the bundle carries, when the trusted root has
// timestamp authorities; the log entry and its integrated time when the
// bundle has an inclusion promise (Rekor v1), and always one log entry (a
// Rekor v2 entry proves inclusion but carries no time; the client spec
// and model_signing require a log entry); and for certificates,
// an SCT when the root has CT logs. The certificate must be valid at every
// verified time.
func (v *SignatureVerifier) verifierOptions(b *bundle.Bundle, keyless bool) ([]sgverify.VerifierOption, error) {
	var opts []sgverify.VerifierOption
	ts, err := b.Timestamps()
	if err != nil {
		return nil, sigErr("bundle timestamps: %v", err)
	}
	if len(ts) > 0 && len(v.trusted.TimestampingAuthorities()) > 0 {
		opts = append(opts, sgverify.WithSignedTimestamps(len(ts)))
	}
	opts = append(opts, sgverify.WithTransparencyLog(1))
	if b.HasInclusionPromise() {
		opts = append(opts, sgverify.WithIntegratedTimestamps(1))
	}
	if keyless && len(v.trusted.CTLogs()) > 0 {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	return opts, nil
}

// keyVerifier resolves a bundle's key hint to an allowed key for
// sigstore-go: by hint, or the only allowed key.
func (v *SignatureVerifier) keyVerifier(hint string) (root.TimeConstrainedVerifier, error) {
	for _, k := range v.keys {
		for _, h := range k.hints {
			if h == hint || len(v.keys) == 1 {
				sv, err := signature.LoadVerifier(k.pub, curveHashFor(k.pub))
				if err != nil {
					return nil, err
				}
				return root.NewExpiringKey(sv, timeZero, timeZero), nil
			}
		}
	}
	return nil, fmt.Errorf("no allowed key for hint %q", hint)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
