package signature

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
)

// Verifier checks Sigstore bundles, OpenSSF Model Signing
// (model_signing) bundles among them, against an allowlist of signers:
// keyless identities (OIDC issuer and certificate SAN), public keys, and
// certificate authorities.
type Verifier struct {
	trusted    root.TrustedMaterial // for keyless and logged bundles
	identities []sgverify.CertificateIdentity
	keys       []trustedKey
	caCerts    []*x509.Certificate
	cas        *x509.CertPool // the same CAs, for legacy.go
	nCAs       int
	ignore     []string
	bundle     string
	algorithms []verify.Algorithm // nil: any
	mldsa      []*mldsaKey
}

type trustedKey struct {
	pub   crypto.PublicKey
	der   []byte
	hints []string // what bundles may name it by
	name  string
}

// Option configures a Verifier.
type Option func(*Verifier) error

// NewVerifier returns a verifier that accepts signatures by the
// identities, keys and CAs its options name, and refuses one with none
// (an empty allowlist).
func NewVerifier(opts ...Option) (*Verifier, error) {
	v := &Verifier{cas: x509.NewCertPool()}
	for _, o := range opts {
		if err := o(v); err != nil {
			return nil, err
		}
	}
	if len(v.identities)+len(v.keys)+len(v.mldsa)+v.nCAs == 0 {
		return nil, formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "no signer is allowed: give an identity, a key or a CA")
	}
	return v, nil
}

// WithTrustedRootFile trusts the Sigstore trusted_root.json at path (or a
// ClientTrustConfig holding one), offline.
func WithTrustedRootFile(path string) Option {
	return func(v *Verifier) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return formats.WithPath(formats.IOError(formats.NoOffset, err), path)
		}
		tr, err := parseTrustedRoot(b)
		if err != nil {
			return formats.WithPath(err, path)
		}
		v.trusted = tr
		return nil
	}
}

// parseTrustedRoot reads a trusted root, or the trustedRoot member of a
// ClientTrustConfig.
func parseTrustedRoot(b []byte) (*root.TrustedRoot, error) {
	var cfg struct {
		TrustedRoot json.RawMessage `json:"trustedRoot"`
	}
	if err := json.Unmarshal(b, &cfg); err == nil && len(cfg.TrustedRoot) > 0 {
		b = cfg.TrustedRoot
	}
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "trusted root: %v", err)
	}
	return tr, nil
}

// WithTrustedMaterial trusts tm (tests use sigstore-go's VirtualSigstore).
func WithTrustedMaterial(tm root.TrustedMaterial) Option {
	return func(v *Verifier) error { v.trusted = tm; return nil }
}

// WithPublicGoodInstance trusts Sigstore's public-good instance, fetching
// its trusted root through sigstore-go's TUF client (with its cache in
// ~/.sigstore). Offline with no cache it fails with ErrNoTrustedRoot.
func WithPublicGoodInstance() Option {
	return func(v *Verifier) error {
		tr, err := root.FetchTrustedRootWithOptions(tuf.DefaultOptions())
		if err != nil {
			return formats.Errorf(formats.KindIO, formats.NoOffset,
				"cannot get the public-good trusted root (offline, with no TUF cache?): %w: %w", ErrNoTrustedRoot, err)
		}
		v.trusted = tr
		return nil
	}
}

// WithIdentity allows a keyless signer: an OIDC issuer (exact) and a
// certificate SAN, exact or as a regular expression. modelgate anchors
// the expression (^...$) whether or not it already is: sigstore-go's
// matchers would otherwise accept a match anywhere in the SAN.
func WithIdentity(issuer, subject, subjectRegexp string) Option {
	return func(v *Verifier) error {
		if issuer == "" || (subject == "") == (subjectRegexp == "") {
			return formats.Errorf(formats.KindMalformed, formats.NoOffset, "an identity needs an issuer and exactly one of a subject and a subject regexp")
		}
		re := ""
		if subjectRegexp != "" {
			re = anchor(subjectRegexp)
			if _, err := regexp.Compile(re); err != nil {
				return formats.Errorf(formats.KindMalformed, formats.NoOffset, "subject regexp: %v", err)
			}
		}
		id, err := sgverify.NewShortCertificateIdentity(issuer, "", subject, re)
		if err != nil {
			return formats.Errorf(formats.KindMalformed, formats.NoOffset, "identity: %v", err)
		}
		v.identities = append(v.identities, id)
		return nil
	}
}

// anchor makes a regular expression match whole strings only.
func anchor(re string) string {
	return "^(?:" + strings.TrimSuffix(strings.TrimPrefix(re, "^"), "$") + ")$"
}

// WithPublicKeyFile allows signatures by the PEM public key (or
// certificate's key) in path: ECDSA P-256/384/521, Ed25519 or RSA; or by
// the raw ML-DSA public key in path (see WithMLDSAPublicKey).
func WithPublicKeyFile(path string) Option {
	return func(v *Verifier) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return formats.WithPath(formats.IOError(formats.NoOffset, err), path)
		}
		if !bytes.Contains(b, []byte("-----BEGIN")) {
			if k, ok := parseMLDSAPublicKey(filepath.Base(path), b); ok {
				v.mldsa = append(v.mldsa, k)
				return nil
			}
		}
		pub, err := parsePublicKeyPEM(b)
		if err != nil {
			return formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "public key: %v", err), path)
		}
		return WithPublicKey(filepath.Base(path), pub)(v)
	}
}

// WithPublicKey allows signatures by pub, called name in results.
func WithPublicKey(name string, pub crypto.PublicKey) Option {
	return func(v *Verifier) error {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return formats.Errorf(formats.KindMalformed, formats.NoOffset, "public key %s: %v", name, err)
		}
		v.keys = append(v.keys, trustedKey{pub: pub, der: der, hints: keyHints(der), name: name})
		return nil
	}
}

// keyHints are the ways bundles name a key: sha256 of its DER or of its
// PEM (model_signing), in hex or base64.
func keyHints(der []byte) []string {
	p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	a, b := sha256.Sum256(der), sha256.Sum256(p)
	return []string{hex.EncodeToString(a[:]), hex.EncodeToString(b[:]), b64(a[:]), b64(b[:])}
}

// WithCAFile allows signatures by certificate chains that reach a CA
// certificate in the PEM file at path, for code signing.
func WithCAFile(path string) Option {
	return func(v *Verifier) error {
		certs, err := LoadCertificatesFile(path)
		if err != nil {
			return err
		}
		for _, c := range certs {
			v.cas.AddCert(c)
			v.caCerts = append(v.caCerts, c)
		}
		v.nCAs += len(certs)
		return nil
	}
}

// LoadCertificatesFile reads every CERTIFICATE block of a PEM file (a CA,
// a signing certificate, or a chain); a file without one is malformed.
func LoadCertificatesFile(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	var out []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "certificate: %v", err), path)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "no CERTIFICATE in the file"), path)
	}
	return out, nil
}

// WithIgnorePaths leaves paths (relative to the model directory) out of
// the model's manifest, as model_signing's --ignore-paths does.
func WithIgnorePaths(paths ...string) Option {
	return func(v *Verifier) error { v.ignore = append(v.ignore, paths...); return nil }
}

// WithBundleFile reads the signature from path instead of finding it
// (model.sig inside a model directory, FILE.sig or model.sig beside a file).
func WithBundleFile(path string) Option {
	return func(v *Verifier) error { v.bundle = path; return nil }
}

// WithDigestAlgorithms refuses a signature whose manifest hashes with any
// other algorithm (kind not-allowlisted); a bundle over a single file's
// digest, and model_signing 0.2's manifests, are SHA-256.
func WithDigestAlgorithms(algs ...verify.Algorithm) Option {
	return func(v *Verifier) error { v.algorithms = append(v.algorithms, algs...); return nil }
}

// allowsAlgorithm refuses a manifest by an algorithm the verifier does not
// allow.
func (v *Verifier) allowsAlgorithm(a verify.Algorithm) error {
	if len(v.algorithms) == 0 || slices.Contains(v.algorithms, a) {
		return nil
	}
	return formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the signature's manifest hashes with %s, and only %v are allowed", a, v.algorithms)
}

// FromPolicy builds the verifier a policy's signatures section
// describes, allowing only algs when given (digest_algorithms); paths in
// it are relative to dir (the policy's directory).
func FromPolicy(s *verify.Signatures, dir string, algs ...verify.Algorithm) (*Verifier, error) {
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	var opts []Option
	if s.TrustedRoot != "" {
		opts = append(opts, WithTrustedRootFile(rel(s.TrustedRoot)))
	} else if len(s.Identities) > 0 {
		opts = append(opts, WithPublicGoodInstance())
	}
	for _, id := range s.Identities {
		opts = append(opts, WithIdentity(id.Issuer, id.Subject, id.SubjectRegexp))
	}
	for _, k := range s.Keys {
		opts = append(opts, WithPublicKeyFile(rel(k)))
	}
	for _, c := range s.CAs {
		opts = append(opts, WithCAFile(rel(c)))
	}
	if s.Bundle != "" {
		opts = append(opts, WithBundleFile(rel(s.Bundle)))
	}
	opts = append(opts, WithIgnorePaths(s.IgnorePaths...), WithDigestAlgorithms(algs...))
	return NewVerifier(opts...)
}

// String summarises who the verifier allows.
func (v *Verifier) String() string {
	return fmt.Sprintf("signers: %d identities, %d keys, %d CAs", len(v.identities), len(v.keys)+len(v.mldsa), v.nCAs)
}

func init() {
	verify.RegisterSignatures(func(s *verify.Signatures, dir string, algs ...verify.Algorithm) (verify.ModelVerifier, error) {
		return FromPolicy(s, dir, algs...)
	})
}
