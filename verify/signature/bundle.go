package signature

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/formats"
)

// MaxBundleBytes caps a signature bundle.
const MaxBundleBytes = 16 << 20

// rawBundle is the part of a Sigstore bundle (v0.1 to v0.3 JSON) that
// modelgate reads itself. sigstore-go v1.3.0 cannot load two forms that
// model_signing writes: certificate-chain bundles labelled v0.3, and
// pre-1.1 key bundles carrying the key as "rawBytes"; modelgate verifies
// key and certificate-chain bundles without a transparency log itself and
// hands every other bundle to sigstore-go.
type rawBundle struct {
	MediaType            string `json:"mediaType"`
	VerificationMaterial *struct {
		PublicKey *struct {
			Hint     string `json:"hint"`
			RawBytes string `json:"rawBytes"`
		} `json:"publicKey"`
		X509CertificateChain *struct {
			Certificates []struct {
				RawBytes string `json:"rawBytes"`
			} `json:"certificates"`
		} `json:"x509CertificateChain"`
		Certificate *struct {
			RawBytes string `json:"rawBytes"`
		} `json:"certificate"`
		TlogEntries               []json.RawMessage `json:"tlogEntries"`
		TimestampVerificationData *struct {
			RFC3161Timestamps []json.RawMessage `json:"rfc3161Timestamps"`
		} `json:"timestampVerificationData"`
	} `json:"verificationMaterial"`
	DSSEEnvelope *struct {
		Payload     string `json:"payload"`
		PayloadType string `json:"payloadType"`
		Signatures  []struct {
			Sig   string `json:"sig"`
			KeyID string `json:"keyid"`
		} `json:"signatures"`
	} `json:"dsseEnvelope"`
	MessageSignature *struct {
		MessageDigest *struct {
			Algorithm string `json:"algorithm"`
			Digest    string `json:"digest"`
		} `json:"messageDigest"`
		Signature string `json:"signature"`
	} `json:"messageSignature"`

	raw          []byte
	payload      []byte     // decoded DSSE payload
	statement    *statement // the payload as an in-toto statement, decoded once; nil if it is not one
	statementErr error
	sig          []byte // decoded DSSE or message signature
}

func sigErr(format string, args ...any) *formats.Error {
	return formats.Errorf(formats.KindSignatureInvalid, formats.NoOffset, format, args...)
}

// parseBundle reads a bundle and refuses what no verifier could accept:
// not JSON, an unknown media type, no verification material, neither or
// both of a DSSE envelope and a message signature, a DSSE envelope without
// exactly one signature.
func parseBundle(b []byte) (*rawBundle, error) {
	if len(b) > MaxBundleBytes {
		return nil, formats.Exceeded(formats.NoOffset, "bundle size", int64(len(b)), "MaxBundleBytes", MaxBundleBytes)
	}
	var rb rawBundle
	if err := json.Unmarshal(b, &rb); err != nil {
		return nil, sigErr("bundle is not JSON: %v", err)
	}
	rb.raw = b
	if !strings.HasPrefix(rb.MediaType, "application/vnd.dev.sigstore.bundle") {
		return nil, sigErr("bundle media type %q is not a Sigstore bundle", rb.MediaType)
	}
	if rb.VerificationMaterial == nil {
		return nil, sigErr("bundle has no verification material")
	}
	switch {
	case (rb.DSSEEnvelope == nil) == (rb.MessageSignature == nil):
		return nil, sigErr("bundle must hold exactly one of a DSSE envelope and a message signature")
	case rb.DSSEEnvelope != nil:
		if len(rb.DSSEEnvelope.Signatures) != 1 {
			return nil, sigErr("DSSE envelope has %d signatures; exactly one is read", len(rb.DSSEEnvelope.Signatures))
		}
		var err1, err2 error
		rb.payload, err1 = base64.StdEncoding.DecodeString(rb.DSSEEnvelope.Payload)
		rb.sig, err2 = base64.StdEncoding.DecodeString(rb.DSSEEnvelope.Signatures[0].Sig)
		if err1 != nil || err2 != nil {
			return nil, sigErr("DSSE envelope is not base64")
		}
		rb.decodeStatement()
	default:
		var err error
		if rb.sig, err = base64.StdEncoding.DecodeString(rb.MessageSignature.Signature); err != nil {
			return nil, sigErr("message signature is not base64")
		}
	}
	return &rb, nil
}

// decodeStatement decodes the DSSE payload as an in-toto statement, once.
func (rb *rawBundle) decodeStatement() {
	var st statement
	if rb.statementErr = json.Unmarshal(rb.payload, &st); rb.statementErr == nil {
		rb.statement = &st
	}
}

// hasLogEvidence reports whether the bundle carries transparency-log
// entries or timestamps, which only sigstore-go verifies.
func (rb *rawBundle) hasLogEvidence() bool {
	vm := rb.VerificationMaterial
	return len(vm.TlogEntries) > 0 || (vm.TimestampVerificationData != nil && len(vm.TimestampVerificationData.RFC3161Timestamps) > 0)
}

// chain returns the certificate chain of a certificate-chain bundle.
func (rb *rawBundle) chain() ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, c := range rb.VerificationMaterial.X509CertificateChain.Certificates {
		der, err := base64.StdEncoding.DecodeString(c.RawBytes)
		if err != nil {
			return nil, sigErr("certificate is not base64")
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, sigErr("certificate does not parse: %v", err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, sigErr("empty certificate chain")
	}
	return out, nil
}

// rawKeyPEM returns the PEM of a pre-1.1 "rawBytes" public key, if any.
func (rb *rawBundle) rawKeyPEM() []byte {
	pk := rb.VerificationMaterial.PublicKey
	if pk == nil || pk.RawBytes == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(pk.RawBytes)
	if err != nil || !bytes.Contains(b, []byte("BEGIN PUBLIC KEY")) {
		return nil
	}
	return b
}

// parsePublicKeyPEM reads the first PUBLIC KEY block of pem text (text
// before the block, as certtool writes, is skipped).
func parsePublicKeyPEM(b []byte) (any, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("no PEM PUBLIC KEY block")
		}
		switch blk.Type {
		case "PUBLIC KEY":
			return x509.ParsePKIXPublicKey(blk.Bytes)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, err
			}
			return c.PublicKey, nil
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
