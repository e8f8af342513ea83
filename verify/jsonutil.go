package verify

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

type jsonRaw = json.RawMessage

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

var timeZero time.Time

// signatureDigest passes a precomputed digest to a sigstore verifier.
func signatureDigest(d []byte) signature.VerifyOption { return options.WithDigest(d) }
