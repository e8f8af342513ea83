package signature

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/modelgate/modelgate/formats"
)

// This file verifies model_signing's ML-DSA bundles
// (model_signing/_signing/sign_ml_dsa.py), post-quantum signatures that
// sigstore-go does not read: a DSSE envelope over an in-toto statement,
// signed with ML-DSA (FIPS 204, empty context, as dilithium-py signs) over
// DSSE's PAE with the in-toto payload type, the raw public key named by
// the hint "ML_DSA_65:<hex sha256 of the key>", and no log entries.
// model_signing falls back to its 0.2 PAE when the standard one fails, and
// so does this verifier, for ML-DSA only.

// mldsaVariants are the ML-DSA parameter sets, by model_signing's names.
var mldsaVariants = []struct {
	name   string
	scheme sign.Scheme
}{
	{"ML_DSA_44", mldsa44.Scheme()},
	{"ML_DSA_65", mldsa65.Scheme()},
	{"ML_DSA_87", mldsa87.Scheme()},
}

// mldsaKey is an allowed raw ML-DSA public key.
type mldsaKey struct {
	variant string
	scheme  sign.Scheme
	pub     sign.PublicKey
	hash    string // hex sha256 of the raw key, as model_signing's hint names it
	name    string
}

// parseMLDSAPublicKey reads a raw ML-DSA public key, as model_signing's
// ML-DSA verifier reads one: its variant is told by its length (1312,
// 1952 or 2592 bytes).
func parseMLDSAPublicKey(name string, raw []byte) (*mldsaKey, bool) {
	for _, v := range mldsaVariants {
		if len(raw) != v.scheme.PublicKeySize() {
			continue
		}
		pub, err := v.scheme.UnmarshalBinaryPublicKey(raw)
		if err != nil {
			return nil, false
		}
		h := sha256.Sum256(raw)
		return &mldsaKey{variant: v.name, scheme: v.scheme, pub: pub, hash: hex.EncodeToString(h[:]), name: name}, true
	}
	return nil, false
}

// WithMLDSAPublicKey allows signatures by the raw ML-DSA-44, -65 or -87
// public key raw (FIPS 204 encoding, as model_signing's ML-DSA method
// writes it), called name in results. WithPublicKeyFile reads such keys
// too.
func WithMLDSAPublicKey(name string, raw []byte) Option {
	return func(v *Verifier) error {
		k, ok := parseMLDSAPublicKey(name, raw)
		if !ok {
			return formats.Errorf(formats.KindMalformed, formats.NoOffset, "public key %s: %d bytes is no raw ML-DSA-44, -65 or -87 public key", name, len(raw))
		}
		v.mldsa = append(v.mldsa, k)
		return nil
	}
}

// isMLDSA reports whether rb is model_signing's ML-DSA form: a DSSE
// bundle signed with a bare key whose hint names an ML-DSA variant, or
// with no hint and a signature of an ML-DSA signature's length.
func (rb *rawBundle) isMLDSA() bool {
	pk := rb.VerificationMaterial.PublicKey
	if rb.DSSEEnvelope == nil || pk == nil || pk.RawBytes != "" {
		return false
	}
	if pk.Hint != "" {
		return strings.HasPrefix(pk.Hint, "ML_DSA_")
	}
	for _, v := range mldsaVariants {
		if len(rb.sig) == v.scheme.SignatureSize() {
			return true
		}
	}
	return false
}

// verifyMLDSA checks an ML-DSA bundle against the allowed ML-DSA keys: the
// key its hint names (the hint's variant must be the key's), or any of
// them when it names none.
func (v *Verifier) verifyMLDSA(rb *rawBundle, alg string, digest []byte, m *manifest) (string, error) {
	if rb.hasLogEvidence() {
		return "", sigErr("an ML-DSA bundle with transparency-log evidence is not a form model_signing writes")
	}
	if len(v.mldsa) == 0 {
		return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle is signed with an ML-DSA key, and %w", &NoSignerError{"ML-DSA key"})
	}
	if rb.DSSEEnvelope.PayloadType != inTotoPayloadType {
		return "", sigErr("ML-DSA bundle's payload type is %q, not in-toto's", rb.DSSEEnvelope.PayloadType)
	}
	candidates := v.mldsa
	if hint := rb.VerificationMaterial.PublicKey.Hint; hint != "" {
		variant, hash, ok := strings.Cut(hint, ":")
		if !ok {
			return "", sigErr("ML-DSA key hint %q is not VARIANT:SHA256", hint)
		}
		candidates = nil
		for _, k := range v.mldsa {
			if k.hash == hash { // hex as model_signing writes it, lowercase
				if k.variant != variant {
					return "", sigErr("the bundle names its key as %s, and the allowed key %s with that digest is %s", variant, k.name, k.variant)
				}
				candidates = append(candidates, k)
			}
		}
		if len(candidates) == 0 {
			return "", formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset, "the bundle's ML-DSA key (sha256 %s) is not an allowed key", hash)
		}
	}
	// model_signing signs the PAE with in-toto's payload type, and checks
	// its 0.2 PAE when that fails.
	msgs := [][]byte{pae(inTotoPayloadType, rb.payload), legacyPAE(inTotoPayloadType, rb.payload)}
	for _, k := range candidates {
		if len(rb.sig) != k.scheme.SignatureSize() {
			continue
		}
		for _, msg := range msgs {
			if k.scheme.Verify(k.pub, msg, rb.sig, nil) {
				if m == nil && !statementNames(rb.statement, alg, digest) {
					return "", formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "the statement does not name this artifact's %s digest", alg)
				}
				return "key " + k.name + " (" + k.variant + ")", nil
			}
		}
	}
	return "", sigErr("ML-DSA signature does not verify with the allowed key")
}

// mldsaPublic returns the allowed-key form of an ML-DSA private key's
// public key, when key is one.
func mldsaPublic(key crypto.Signer) (sign.PrivateKey, *mldsaKey, bool) {
	sk, ok := key.(sign.PrivateKey)
	if !ok {
		return nil, nil, false
	}
	pub, ok := sk.Public().(sign.PublicKey)
	if !ok {
		return nil, nil, false
	}
	raw, err := pub.MarshalBinary()
	if err != nil {
		return nil, nil, false
	}
	k, ok := parseMLDSAPublicKey("", raw)
	return sk, k, ok
}

// mldsaEncryptedHeader starts model_signing's password-encrypted ML-DSA
// private keys.
const mldsaEncryptedHeader = "MLDSA-ENC-V1"

// parseMLDSAPrivateKey reads a raw ML-DSA private key (FIPS 204 encoding,
// as dilithium-py and model_signing store it), its variant told by its
// length.
func parseMLDSAPrivateKey(raw []byte) (crypto.Signer, error) {
	if bytes.HasPrefix(raw, []byte(mldsaEncryptedHeader)) {
		return nil, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "a password-encrypted ML-DSA key; give the raw key")
	}
	for _, v := range mldsaVariants {
		if len(raw) == v.scheme.PrivateKeySize() {
			sk, err := v.scheme.UnmarshalBinaryPrivateKey(raw)
			if err != nil {
				return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "%s private key: %v", v.name, err)
			}
			return sk, nil
		}
	}
	return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "no unencrypted PEM private key, nor a raw ML-DSA private key")
}
