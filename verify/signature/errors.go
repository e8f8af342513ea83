package signature

import "errors"

// ErrNoTrustedRoot is the cause of a refusal when a bundle needs a
// Sigstore trusted root (for its log entries, timestamps or certificate)
// and none was given or could be fetched.
var ErrNoTrustedRoot = errors.New("no Sigstore trusted root")

// NoSignerError is the cause of a refusal when a bundle is signed by a
// kind of signer of which the verifier allows none.
type NoSignerError struct {
	Signer string // "key", "ML-DSA key", "identity" or "CA"
}

func (e *NoSignerError) Error() string { return "no " + e.Signer + " is allowed" }
