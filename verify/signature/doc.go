// Package signature checks and makes signatures over models: Sigstore
// bundles (sigstore-go) and OpenSSF Model Signing (model_signing)
// manifests, with allowlists of identities, keys and CAs. It is kept out
// of package verify so that a program checking digests only (formats,
// loader, verify) links none of the Sigstore stack: sigstore-go, TUF,
// OpenAPI, gRPC, OpenTelemetry, go-containerregistry, klog.
//
// A Verifier (NewVerifier, or FromPolicy for a policy's signatures
// section) implements loader.SignatureVerifier and verify.ModelVerifier:
//
//	v, err := signature.NewVerifier(signature.WithPublicKeyFile("cosign.pub"))
//	…
//	m, err := loader.Open(ctx, dir, loader.WithSignatureVerifier(v))
//
// Importing this package also registers FromPolicy with
// verify.RegisterSignatures, so that verify.Policy.Checks (and
// loader.WithPolicy) build a policy's signature verifier; the policy keeps
// the one reading of what its signatures section means. A program that
// does not import it refuses a policy naming signatures (kind usage).
//
// Verifier checks Sigstore bundles and OpenSSF Model Signing
// (model_signing) manifests: files or shards serializations, by sha256,
// blake2b or blake3, recomputed from the bytes verify.ModelDigests gives
// (the loader's). It refuses (signature-invalid unless noted) a manifest
// whose subject digest is not that of its resources in order, a resource
// whose algorithm name is not the serialization's, a resource name
// outside the model (path-traversal), a hash type or serialization it
// does not know (unsupported), a model whose files or shards differ from
// the manifest (digest-mismatch; under shards an empty file needs no
// resource, as model_signing records none), ignore paths that leave out
// an unsigned file that loads (weights, code, a pickle: not-allowlisted),
// and an algorithm the policy's digest_algorithms does not allow
// (not-allowlisted). A certificate chain without log evidence
// (model_signing's certificate method) is refused when it reaches no
// allowed CA or an allowed CA that is not a root (not-allowlisted), when a
// certificate is invalid at the leaf's notBefore or now, or the leaf has
// neither the digitalSignature key usage nor the codeSigning extended key
// usage (signature-invalid). model_signing's
// ML-DSA bundles (mldsa.go) are refused when no ML-DSA key is allowed or
// the hint names another (not-allowlisted), and when the hint's variant
// is not the key's, the payload type is not in-toto, the bundle carries
// log evidence, or neither DSSE's PAE nor model_signing 0.2's verifies
// (signature-invalid).
//
// A bundle is read up to MaxBundleBytes (16 MiB); its DSSE payload and
// manifest are parsed from that buffer. Keys and certificates named by a
// policy or flag, and a signing key (LoadPrivateKeyFile), are files the
// operator provides and are read whole.
package signature
