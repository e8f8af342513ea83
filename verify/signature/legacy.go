package signature

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	sigsig "github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/modelgate/modelgate/formats"
)

// This file verifies, by hand, the bundle forms model_signing writes that
// sigstore-go v1.3.0 cannot verify; everything else goes to sigstore-go
// (verifySigstore). TestLegacyFormsStillNeeded fails once sigstore-go
// verifies them, and this file can be deleted then.
//
//   - Pre-1.1 key bundles (model_signing 0.3.1 and 1.0.0) carry the public
//     key as "rawBytes" in verificationMaterial.publicKey, a field the
//     bundle protobuf does not have: protojson refuses the bundle.
//   - model_signing 0.2's bundles (predicate
//     https://model_signing/Digests/v0.1) are signed over a mistaken PAE:
//     "DSSEV1", and the payload as a Python bytes repr, hashed with SHA-256
//     whatever the key's curve.
//   - Certificate chains without log evidence (model_signing's
//     certificate method): sigstore-go refuses a leaf without a subject
//     alternative name ("no Subject Alternative Name found") and a chain
//     that carries its root ("self-signed certificate found in
//     certificate chain"), both of which model_signing writes, and checks
//     neither the key usage model_signing requires nor that the chain
//     ends at a root. verifyLegacyChain checks them as model_signing does.

// legacyForm says why rb is one of those forms, or "".
func (rb *rawBundle) legacyForm(m *manifest) string {
	switch pk := rb.VerificationMaterial.PublicKey; {
	case pk != nil && pk.RawBytes != "":
		return "pre-1.1 rawBytes public key"
	case m != nil && m.legacy:
		return "model_signing 0.2 PAE"
	case rb.VerificationMaterial.X509CertificateChain != nil && !rb.hasLogEvidence():
		return "certificate chain without log evidence"
	}
	return ""
}

// verifyLegacy verifies a legacy-form bundle signed by a key or a
// certificate chain (model_signing wrote no other kind of them).
func (v *Verifier) verifyLegacy(rb *rawBundle, alg string, digest []byte, m *manifest) (string, error) {
	vm := rb.VerificationMaterial
	switch {
	case rb.hasLogEvidence():
		return "", sigErr("a %s bundle with transparency-log evidence is not a form model_signing wrote", rb.legacyForm(m))
	case vm.PublicKey != nil:
		return v.verifyLegacyKey(rb, alg, digest, m)
	case vm.X509CertificateChain != nil:
		return v.verifyLegacyChain(rb, alg, digest, m)
	}
	return "", sigErr("a %s bundle with neither a key nor a certificate chain", rb.legacyForm(m))
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
	if m == nil && !statementNames(rb.statement, alg, digest) {
		return formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "the statement does not name this artifact's %s digest", alg)
	}
	return nil
}

func statementNames(st *statement, alg string, digest []byte) bool {
	if st == nil {
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
	sv, err := sigsig.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return err
	}
	return sv.VerifySignature(bytes.NewReader(sig), nil, options.WithDigest(digest))
}

// verifyLegacyKey checks a bundle signed by a bare public key against the
// allowed keys. A key embedded in the bundle is never trusted by itself.
func (v *Verifier) verifyLegacyKey(rb *rawBundle, alg string, digest []byte, m *manifest) (string, error) {
	if len(v.keys) == 0 {
		return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle is signed with a public key, and %w", &NoSignerError{"key"})
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

// verifyLegacyChain checks a certificate-chain bundle as model_signing's
// certificate verifier does, and where it is laxer, more strictly:
//
//   - the chain (the bundle's certificates after the leaf, its root
//     included or not) must reach an allowed CA that is a root
//     (self-signed): model_signing's OpenSSL store trusts no partial chain,
//     so an intermediate given as the only CA is refused (not-allowlisted);
//   - every certificate must be valid at the leaf's notBefore, the time
//     model_signing checks at, and also now (stricter: such bundles carry
//     no log or timestamp proving when they were signed, so an expired
//     leaf is refused);
//   - the leaf must allow signing: the digitalSignature key usage or the
//     codeSigning extended key usage (model_signing's rule), and, as
//     crypto/x509 checks for code signing, an extended key usage list
//     that names codeSigning if it names any;
//   - the leaf's key must verify the signature.
func (v *Verifier) verifyLegacyChain(rb *rawBundle, alg string, digest []byte, m *manifest) (string, error) {
	switch {
	case v.nCAs == 0 && len(v.identities) > 0:
		return "", sigErr("the bundle's certificate comes with no transparency-log entry or timestamp proving when it was signed, and %w", &NoSignerError{"CA"})
	case v.nCAs == 0:
		return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle is signed with a certificate chain, and %w", &NoSignerError{"CA"})
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
	rooted := false
	for _, at := range []time.Time{leaf.NotBefore, time.Now()} {
		chains, err := leaf.Verify(x509.VerifyOptions{Roots: v.cas, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
		if err != nil {
			var ua x509.UnknownAuthorityError
			if errors.As(err, &ua) {
				return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "certificate chain does not reach an allowed CA: %v", err)
			}
			return "", sigErr("certificate chain at %s: %v", at.UTC().Format(time.RFC3339), err)
		}
		for _, c := range chains {
			top := c[len(c)-1]
			rooted = rooted || bytes.Equal(top.RawIssuer, top.RawSubject) && top.CheckSignatureFrom(top) == nil
		}
	}
	if !rooted {
		return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "certificate chain reaches an allowed CA that is not a root (self-signed); a chain is trusted only up to a root, as model_signing trusts it")
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) {
		return "", sigErr("signing certificate cannot be used for signing: it has neither the digitalSignature key usage nor the codeSigning extended key usage")
	}
	if err := checkSignature(rb, leaf.PublicKey, alg, digest, m); err != nil {
		if formats.KindOf(err) == formats.KindDigestMismatch {
			return "", err
		}
		return "", sigErr("signature does not verify with the leaf certificate: %v", err)
	}
	return "certificate " + leaf.Subject.String(), nil
}
