package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	sigsig "github.com/sigstore/sigstore/pkg/signature"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/regular"
	"github.com/modelgate/modelgate/verify"
)

// VerifyModel checks the signature of a model whose files' digests the
// loader computed (it implements loader.Verifier). A
// model_signing bundle is checked file by file against the manifest
// recomputed from md; any other bundle must be for a single file and sign
// its SHA-256. It returns the signer: an identity, a key or a certificate.
func (v *Verifier) VerifyModel(ctx context.Context, md *verify.ModelDigests) (string, error) {
	bundlePath := v.findBundle(md)
	b, err := readLimited(bundlePath)
	if err != nil {
		return "", err
	}
	rb, err := parseBundle(b)
	if err != nil {
		return "", formats.WithPath(err, bundlePath)
	}
	if rb.isModelSigning() {
		return v.verifyOMS(ctx, rb, md, bundlePath)
	}
	if !md.Single || len(md.Files) != 1 {
		return "", formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, "bundle %s is not a model_signing bundle, so it can sign one file only", bundlePath)
	}
	if err := v.allowsAlgorithm(verify.SHA256); err != nil {
		return "", err
	}
	d, err := md.Sum(ctx, 0, verify.SHA256, 0, md.Files[0].Size)
	if err != nil {
		return "", err
	}
	return v.verifyBundle(rb, "sha256", d, nil)
}

// VerifyPath checks the signature of the model at path (a file or
// directory, refusing symbolic links), hashing its files as the
// signature's manifest says, without parsing any of them.
func (v *Verifier) VerifyPath(ctx context.Context, path string) (string, error) {
	md, err := verify.ListModel(path)
	if err != nil {
		return "", err
	}
	return v.VerifyModel(ctx, md)
}

// VerifyDigest checks the bundle at bundlePath over an artifact known only
// by its digest ("sha256:HEX" in sigstore-conformance's client protocol),
// which need not be a model.
func (v *Verifier) VerifyDigest(bundlePath, algorithm string, digest []byte) (string, error) {
	b, err := readLimited(bundlePath)
	if err != nil {
		return "", err
	}
	rb, err := parseBundle(b)
	if err != nil {
		return "", formats.WithPath(err, bundlePath)
	}
	return v.verifyBundle(rb, algorithm, digest, nil)
}

func readLimited(path string) ([]byte, error) {
	b, err := regular.ReadCapped(path, MaxBundleBytes)
	if err != nil && formats.KindOf(err) == formats.KindIO {
		return nil, formats.WithPath(formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, "no signature bundle: %w", err), path)
	}
	return b, err
}

// findBundle: the configured bundle, else model.sig inside a model
// directory (or beside it), else FILE.sig or model.sig beside a single
// file.
func (v *Verifier) findBundle(md *verify.ModelDigests) string {
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

// SignsFiles reports whether bundle b is a model_signing bundle, which
// signs the files of a model (VerifyModel), rather than one artifact's
// digest (VerifyDigest). loader/oci uses it to tell the bundles an OCI
// artifact carries apart.
func (v *Verifier) SignsFiles(b []byte) bool {
	if len(b) > MaxBundleBytes {
		return false
	}
	rb, err := parseBundle(b)
	return err == nil && rb.isModelSigning()
}

// isModelSigning reports whether the bundle is a model_signing one: a
// DSSE statement with one of its predicate types.
func (rb *rawBundle) isModelSigning() bool {
	st := rb.statement
	return st != nil && (st.PredicateType == PredicateOMSv1 || st.PredicateType == PredicateLegacy01)
}

// verifyOMS recomputes the model's manifest in the bundle's
// serialization, verifies the signature over the statement whose subject
// must be the recomputed root digest, then compares the signed resources
// with the model file by file (names are not in the root digest).
func (v *Verifier) verifyOMS(ctx context.Context, rb *rawBundle, md *verify.ModelDigests, bundlePath string) (string, error) {
	m, err := parseStatement(rb)
	if err != nil {
		return "", err
	}
	if err := v.allowsAlgorithm(m.alg); err != nil {
		return "", err
	}
	skip, err := v.leftOut(md, m, bundlePath)
	if err != nil {
		return "", err
	}
	// A signed file that is absent need not be there when an ignore path
	// or an exclusion names it (excluding means "need not be covered",
	// never "must be absent"). A manifest's "model.sig" names only the
	// bundle it was written as.
	ignore := append(slices.Clone(DefaultIgnorePaths), v.ignore...)
	for _, p := range m.ignore {
		if path.Clean(p) != defaultBundleName {
			ignore = append(ignore, p)
		}
	}
	if rel, err := filepath.Rel(md.Root, bundlePath); err == nil && filepath.IsLocal(rel) {
		ignore = append(ignore, filepath.ToSlash(rel))
	}
	// A top-level .hg or .svn is not part of the model (internal/modeltree):
	// what a manifest says of it is not compared, since nothing loads it.
	m.resources = withoutVCS(m.resources, md.VCS)
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
	actual, err := actualResources(ctx, md, m, skip)
	if err != nil {
		return "", err
	}
	// The signed root digest is the resources' (parseStatement), so
	// equal resources give the model's root digest too.
	if err := compareResources(m.withoutAbsentExcused(md, ignore), actual); err != nil {
		return "", err
	}
	return signer, nil
}

// leftOut says which files of md the signature need not cover: the bundle
// itself, inert files under model_signing's default ignore paths, and
// inert files under the signature's ignore_paths or the verifier's, and
// inert files an exclusion names (ModelDigests.Excused) that the manifest
// does not sign (an excluded file it signs is checked). A
// file those ignore paths name that is not inert (weights, code, a
// pickle) and that the manifest does not sign would be loaded unsigned:
// it is refused (not-allowlisted), as every file that loads must be
// covered. A signed file the verifier's own ignore paths name is left out
// whatever it holds, so that the manifest finds it missing, as
// model_signing does; one the manifest's ignore_paths name and also signs
// (modelgate wrote "__init__.py:0:0" so) is checked against it.
func (v *Verifier) leftOut(md *verify.ModelDigests, m *manifest, bundlePath string) (func(verify.FileDigest) bool, error) {
	bundle := ""
	if rel, err := filepath.Rel(md.Root, bundlePath); err == nil && filepath.IsLocal(rel) {
		bundle = filepath.ToSlash(rel)
	}
	// A manifest's "model.sig" (signed where its bundle was written)
	// excuses no other bundle: an unsigned model.sig beside a bundle given
	// elsewhere must be covered.
	var named []string
	for i, p := range append(slices.Clone(m.ignore), v.ignore...) {
		c := strings.Trim(path.Clean(p), "/")
		if i < len(m.ignore) && c == defaultBundleName {
			continue
		}
		if !slices.Contains(DefaultIgnorePaths, c) {
			named = append(named, p)
		}
	}
	signed := m.signedFiles()
	for _, f := range md.Files {
		if !md.Single && !f.Inert && f.Name != bundle && !signed[f.Name] && ignored(f.Name, named) {
			return nil, formats.WithPath(formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset,
				"the signature's ignore paths %q leave out this file, which is not inert (weights, code or a pickle): every file that loads must be signed", named), f.Name)
		}
	}
	excluded := func(name string) bool { return md.Excused != nil && md.Excused(name) }
	return func(f verify.FileDigest) bool {
		return f.Name == bundle || f.Inert && (ignored(f.Name, DefaultIgnorePaths) || ignored(f.Name, named)) ||
			signed[f.Name] && ignored(f.Name, v.ignore) ||
			f.Inert && !signed[f.Name] && excluded(f.Name)
	}, nil
}

// verifyBundle verifies rb's signature over the artifact digest (for a
// message signature or an in-toto subject) and returns the signer. Every
// form sigstore-go reads is verified by sigstore-go; those it cannot read,
// which model_signing writes, are in legacy.go and mldsa.go.
func (v *Verifier) verifyBundle(rb *rawBundle, alg string, digest []byte, m *manifest) (string, error) {
	if rb.isMLDSA() {
		return v.verifyMLDSA(rb, alg, digest, m)
	}
	if why := rb.legacyForm(m); why != "" {
		return v.verifyLegacy(rb, alg, digest, m)
	}
	return v.verifySigstore(rb, alg, digest)
}

// verifySigstore verifies a bundle with sigstore-go against what it is
// signed with:
//
//   - a public key: the allowed keys (named by the bundle's hint, or any
//     of them), with the log and timestamps checked when the bundle has
//     them, else without (WithNoObserverTimestamps);
//   - a certificate with log or timestamp evidence: the trusted root's
//     Fulcio CAs and the allowed identities, or the allowed CAs;
//   - a certificate chain without such evidence: the allowed CAs, valid
//     now (WithCurrentTime: nothing proves an earlier signing time), with
//     the bundle's own intermediates for chain building.
func (v *Verifier) verifySigstore(rb *rawBundle, alg string, digest []byte) (string, error) {
	var b bundle.Bundle
	if strings.Contains(rb.MediaType, "v0.3") {
		bundle.AllowCertificateChain()(&b) // model_signing labels its chains v0.3
	}
	if err := b.UnmarshalJSON(rb.raw); err != nil {
		return "", sigErr("bundle: %v", err)
	}
	vm := rb.VerificationMaterial
	keyless := vm.Certificate != nil || vm.X509CertificateChain != nil
	logged := rb.hasLogEvidence()
	var tms root.TrustedMaterialCollection
	var policy []sgverify.PolicyOption
	var vopts []sgverify.VerifierOption
	keys := &anyKey{}
	switch {
	case !keyless:
		if len(v.keys) == 0 {
			return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle is signed with a public key, and %w", &NoSignerError{"key"})
		}
		keys.candidates = v.keysFor(vm.PublicKey.Hint)
		tms = append(tms, root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return keys, nil }))
		policy = append(policy, sgverify.WithKey())
	case logged && len(v.identities) > 0:
		for _, id := range v.identities {
			policy = append(policy, sgverify.WithCertificateIdentity(id))
		}
	case v.nCAs > 0:
		chain, err := rb.chain()
		if err != nil {
			return "", err
		}
		tms = append(tms, v.caMaterial(chain[1:]))
		policy = append(policy, sgverify.WithoutIdentitiesUnsafe())
	case logged:
		return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle is signed keyless, and %w", &NoSignerError{"identity"})
	default:
		return "", sigErr("the bundle's certificate comes with no transparency-log entry or timestamp proving when it was signed, and %w", &NoSignerError{"CA"})
	}
	if logged {
		if v.trusted == nil {
			return "", formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, "the bundle's log entries and timestamps need a trusted root: %w", ErrNoTrustedRoot)
		}
		tms = append(tms, v.trusted)
		var err error
		if vopts, err = v.verifierOptions(&b, keyless); err != nil {
			return "", err
		}
	} else if keyless {
		vopts = append(vopts, sgverify.WithCurrentTime())
	} else {
		vopts = append(vopts, sgverify.WithNoObserverTimestamps())
	}
	sv, err := sgverify.NewVerifier(tms, vopts...)
	if err != nil {
		return "", sigErr("verifier: %v", err)
	}
	res, err := sv.Verify(&b, sgverify.NewPolicy(sgverify.WithArtifactDigest(alg, digest), policy...))
	if err != nil {
		return "", classifySigstore(err, keyless)
	}
	switch c := res.Signature.Certificate; {
	case c != nil && c.SubjectAlternativeName != "":
		return fmt.Sprintf("%s (issuer %s)", c.SubjectAlternativeName, c.Extensions.Issuer), nil
	case keyless:
		chain, _ := rb.chain()
		return "certificate " + chain[0].Subject.String(), nil
	case keys.used != nil:
		return "key " + keys.used.name, nil
	}
	return "key (sigstore bundle)", nil
}

// classifySigstore gives sigstore-go's refusal its kind, by type where
// sigstore-go exports one. The rest it reports only as text: a digest the
// bundle does not sign (checked by sigstore-go's artifact policy), and a
// chain that reaches no allowed CA; this is the one place that reads it.
func classifySigstore(err error, keyless bool) error {
	var nm *sgverify.ErrNoMatchingCertificateIdentity
	msg := err.Error()
	switch {
	case errors.As(err, &nm):
		return formats.Errorf(formats.KindIdentityMismatch, formats.NoOffset, "signed by an identity that is not allowed: %v", err)
	case strings.Contains(msg, "artifact digest") || strings.Contains(msg, "do not match digests in statement") ||
		strings.Contains(msg, "provided artifact digests do not match"):
		return formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "the bundle signs another artifact: %v", err)
	case keyless && strings.Contains(msg, "certificate signed by unknown authority"):
		return formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "certificate chain does not reach an allowed CA: %v", err)
	}
	return sigErr("%v", err)
}

// caMaterial trusts the allowed CAs; the bundle's intermediates are
// offered for chain building, as crypto/x509 does with a chain's
// intermediates (they are trusted only if they chain to an allowed CA).
func (v *Verifier) caMaterial(intermediates []*x509.Certificate) root.TrustedMaterial {
	m := &cas{}
	for _, c := range v.caCerts {
		m.cas = append(m.cas, &root.FulcioCertificateAuthority{Root: c, Intermediates: intermediates})
	}
	return m
}

type cas struct {
	root.BaseTrustedMaterial
	cas []root.CertificateAuthority
}

func (c *cas) FulcioCertificateAuthorities() []root.CertificateAuthority { return c.cas }

// keysFor returns the allowed keys a bundle's hint names, or all of them
// when it names none (model_signing's older bundles carry no hint).
func (v *Verifier) keysFor(hint string) []trustedKey {
	var out []trustedKey
	for _, k := range v.keys {
		if slices.Contains(k.hints, hint) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return v.keys
	}
	return out
}

// anyKey verifies with the first of its candidate keys that accepts the
// signature, and records which one did.
type anyKey struct {
	candidates []trustedKey
	used       *trustedKey
}

func (a *anyKey) PublicKey(opts ...sigsig.PublicKeyOption) (crypto.PublicKey, error) {
	return a.candidates[0].pub, nil
}

func (a *anyKey) VerifySignature(sig, msg io.Reader, opts ...sigsig.VerifyOption) error {
	s, err := io.ReadAll(sig)
	if err != nil {
		return err
	}
	var m []byte
	if msg != nil {
		if m, err = io.ReadAll(msg); err != nil {
			return err
		}
	}
	for i, k := range a.candidates {
		sv, err := sigsig.LoadVerifier(k.pub, curveHashFor(k.pub))
		if err != nil {
			continue
		}
		var mr io.Reader
		if msg != nil {
			mr = bytes.NewReader(m)
		}
		if sv.VerifySignature(bytes.NewReader(s), mr, opts...) == nil {
			a.used = &a.candidates[i]
			return nil
		}
	}
	return errBadSignature
}

func (a *anyKey) ValidAtTime(time.Time) bool { return true }

// verifierOptions requires what a bundle of this kind must prove, as
// sigstore-go's conformance client (cmd/conformance, verify-bundle) does:
// every signed timestamp the bundle carries, when the trusted root has
// timestamp authorities; the log entry and its integrated time when the
// bundle has an inclusion promise (Rekor v1), and always one log entry (a
// Rekor v2 entry proves inclusion but carries no time; the client spec
// and model_signing require a log entry); and for certificates,
// an SCT when the root has CT logs. The certificate must be valid at every
// verified time.
func (v *Verifier) verifierOptions(b *bundle.Bundle, keyless bool) ([]sgverify.VerifierOption, error) {
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

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// withoutVCS drops the resources under the version-control directories
// the walker did not enter.
func withoutVCS(res map[string]string, vcs []string) map[string]string {
	if len(vcs) == 0 {
		return res
	}
	out := make(map[string]string, len(res))
	for n, d := range res {
		if file, _, _ := strings.Cut(n, ":"); !ignored(file, vcs) {
			out[n] = d
		}
	}
	return out
}
