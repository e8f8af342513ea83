// Package verify answers "is this one of the files we approved, signed by
// someone we trust?" before anything is parsed or loaded.
//
// Digests: an Algorithm (SHA256, BLAKE3, BLAKE2b) hashes an io.ReaderAt in
// bounded memory with cancellation and progress; BLAKE3 splits one file
// across every core (internal/b3tree). HashTree hashes a model directory
// through os.Root, one worker per core, refusing symbolic links.
// Allowlists come from the sources a team already has: sha256sum and
// b3sum files (ParseSums; SumsAlgorithm tells them apart by name), Git
// LFS pointers (ParseLFSPointer) and the policy's digests. An Allowlist
// refuses a listed file with another digest (kind digest-mismatch), a
// file nothing approves (kind not-allowlisted), and never lets a digest
// by one algorithm stand for another's.
//
// Signatures: SignatureVerifier checks Sigstore bundles and OpenSSF Model
// Signing (model_signing) manifests: files or shards serializations, by
// sha256, blake2b or blake3, recomputed from the bytes ModelDigests gives
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
// Policy is the YAML file a service and a CI step share (schema in
// policy.schema.json); it is decoded strictly (unknown and duplicate keys
// are errors) and refused when empty or contradictory.
//
// # Declared lengths and what bounds them
//
// Files verification reads, and the cap on each before it is parsed:
//
//   - a policy: MaxPolicyBytes (1 MiB), YAML anchors and aliases refused;
//   - a signature bundle (Sigstore or model_signing): MaxBundleBytes
//     (16 MiB); its DSSE payload and manifest are parsed from that buffer;
//   - a Git LFS pointer: MaxLFSPointerBytes; a sha256sum file's lines: 64 KiB
//     each;
//   - model files: hashed verify.ChunkSize at a time, never held.
//
// Files the operator provides are read whole without a cap: keys and
// certificates named by a policy or flag (signature.go), a signing key
// (sign.go), and a checksum file (ReadDigestFile, the CLI's
// --sha256-file).
package verify
