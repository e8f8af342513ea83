package verify

import (
	"context"
	"sync/atomic"
)

// ModelVerifier checks a model's signature over the digests the caller
// computed (loader.SignatureVerifier is the same interface), and returns
// the signer. Package verify/signature implements it for Sigstore and
// model_signing bundles.
type ModelVerifier interface {
	VerifyModel(ctx context.Context, md *ModelDigests) (signer string, err error)
}

// SignaturesBuilder turns a policy's signatures section into a verifier;
// dir resolves the section's relative paths, and algs, when given, are the
// only digest algorithms a signed manifest may use.
type SignaturesBuilder func(s *Signatures, dir string, algs ...Algorithm) (ModelVerifier, error)

var signaturesBuilder atomic.Pointer[SignaturesBuilder]

// RegisterSignatures sets the builder Policy.Checks uses for a policy's
// signatures section. Package verify/signature registers its own when it
// is imported, so that a program checking digests only links no Sigstore
// code, and a policy naming signatures in such a program is refused
// rather than ignored.
func RegisterSignatures(b SignaturesBuilder) { signaturesBuilder.Store(&b) }
