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
// Signatures live in package verify/signature, so that a program that
// checks digests only links no Sigstore, TUF, OpenAPI, gRPC or
// OpenTelemetry code. This package holds what both need: ModelDigests
// (a model's files, hashed on demand), ListModel, and the policy's
// signatures section as plain data (Signatures). Policy.Checks turns that
// section into a ModelVerifier through the builder RegisterSignatures
// registered; importing verify/signature registers it. Without it, a
// policy with a signatures section is refused (kind usage), never
// ignored.
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
//   - a signature bundle: verify/signature's MaxBundleBytes (16 MiB);
//   - a Git LFS pointer: MaxLFSPointerBytes; a sha256sum file's lines: 64 KiB
//     each;
//   - model files: hashed verify.ChunkSize at a time, never held.
//
// Files the operator provides are read whole without a cap: a checksum
// file (ReadDigestFile, the CLI's --sha256-file); keys, certificates and
// signing keys are verify/signature's.
package verify
