package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// pae is DSSE's pre-authentication encoding of a payload.
func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

// legacyPAE is what model_signing 0.2 signed by mistake: the payload as a
// Python bytes repr, in a header spelled "DSSEV1". Only bundles with the
// v0.1 predicate are checked against it.
func legacyPAE(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEV1 %d %s %d %s", len(payloadType), payloadType, len(payload), pyBytesRepr(payload))
}

// pyBytesRepr is Python's repr() of a bytes value.
func pyBytesRepr(b []byte) string {
	quote := byte('\'')
	if strings.IndexByte(string(b), '\'') >= 0 && strings.IndexByte(string(b), '"') < 0 {
		quote = '"'
	}
	var sb strings.Builder
	sb.WriteString("b")
	sb.WriteByte(quote)
	for _, c := range b {
		switch {
		case c == quote || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '\t':
			sb.WriteString(`\t`)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&sb, `\x%02x`, c)
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte(quote)
	return sb.String()
}

var errBadSignature = errors.New("signature does not verify")

// verifyRaw checks sig over msg with pub: ECDSA (ASN.1) hashed by the
// curve's hash (SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521)
// unless h is given, Ed25519 over the message, RSA PKCS#1 v1.5 or PSS
// with SHA-256.
func verifyRaw(pub crypto.PublicKey, msg, sig []byte, h crypto.Hash) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if h == 0 {
			h = curveHash(k.Curve)
		}
		if ecdsa.VerifyASN1(k, digestOf(h, msg), sig) {
			return nil
		}
	case ed25519.PublicKey:
		if ed25519.Verify(k, msg, sig) {
			return nil
		}
	case *rsa.PublicKey:
		d := digestOf(crypto.SHA256, msg)
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, d, sig) == nil || rsa.VerifyPSS(k, crypto.SHA256, d, sig, nil) == nil {
			return nil
		}
	default:
		return fmt.Errorf("unsupported public key type %T", pub)
	}
	return errBadSignature
}

func curveHash(c elliptic.Curve) crypto.Hash {
	switch c {
	case elliptic.P384():
		return crypto.SHA384
	case elliptic.P521():
		return crypto.SHA512
	}
	return crypto.SHA256
}

func digestOf(h crypto.Hash, msg []byte) []byte {
	var hh hash.Hash
	switch h {
	case crypto.SHA384:
		hh = sha512.New384()
	case crypto.SHA512:
		hh = sha512.New()
	default:
		hh = sha256.New()
	}
	hh.Write(msg)
	return hh.Sum(nil)
}

// curveHashFor is the hash a key signs with in Sigstore bundles.
func curveHashFor(pub crypto.PublicKey) crypto.Hash {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		return curveHash(k.Curve)
	}
	return crypto.SHA256
}
