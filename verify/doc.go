// Package verify answers "is this one of the files we approved, signed by
// someone we trust?" before anything is parsed or loaded.
//
// Digests: Hash and HashBytes compute SHA-256 in large chunks with
// cancellation and progress; HashTree hashes a model directory through
// os.Root, one worker per core, refusing symbolic links. Allowlists come
// from the sources a team already has: sha256sum files (ParseSHA256Sums),
// Git LFS pointers (ParseLFSPointer) and the policy's digests. An
// Allowlist refuses a listed file with another digest (kind
// digest-mismatch) and a file nothing approves (kind not-allowlisted).
//
// Policy is the YAML file a service and a CI step share (schema in
// policy.schema.json); it is decoded strictly (unknown and duplicate keys
// are errors) and refused when empty or contradictory.
package verify
