// Package oci opens models distributed as OCI artifacts: a CNCF ModelPack
// artifact, a Docker model artifact, or any OCI manifest whose layer media
// types the caller names. The reference is a registry
// (oci://REGISTRY/REPO[:TAG|@DIGEST]) or an OCI image layout directory
// (oci-layout:DIR[:TAG|@DIGEST], or a directory holding an oci-layout
// file). Registry and layout access go through oras-go v2.
//
// Open works in the order of trust, as loader.Open does for a directory:
//
//  1. resolve the reference to a manifest digest (a tag is only a name:
//     RequireDigest refuses it, kind not-allowlisted); an index is followed
//     to the one manifest it lists, or to the one matching WithPlatform,
//     and one listing several without a platform choice is refused (kind
//     unsupported);
//  2. when a manifest signature is required (WithSignatureVerifier,
//     RequireSignatures(SignedManifest), the default; or a policy's
//     signatures.oci naming "manifest"), find the manifest's Sigstore
//     bundles stored as OCI referrers (subject the manifest, a layer of
//     media type application/vnd.dev.sigstore.bundle*, as cosign v2.6.5
//     --new-bundle-format writes them), key or keyless, and require one
//     the verifier accepts over the manifest digest; without one,
//     cosign's older scheme: a manifest tagged sha256-HEX.sig whose
//     simple-signing payload names the manifest digest, its signature
//     checked by the same verifier (none: not-allowlisted; a bad one, or
//     a payload naming another manifest: signature-invalid; a keyless
//     one by another identity or issuer: identity-mismatch), before any
//     layer is fetched. A referrer's model_signing bundle (a DSSE
//     statement of model_signing's predicate types) is never a manifest
//     signature;
//  3. fetch the manifest and the config within MaxManifestBytes, checking
//     each against its digest and size (kind digest-mismatch); a manifest
//     whose media type differs from its descriptor's, or a config or
//     artifact type that is neither ModelPack's nor Docker's model config,
//     is refused unless WithMediaTypes names it (kind unsupported);
//  4. stream each layer once, hashing it as it lands: a blob whose digest
//     or size differs from its descriptor's is refused (digest-mismatch),
//     and nothing unpacked from it is ever gated; a layer media type other
//     than ModelPack's weight, weight.config, doc, code and dataset types
//     (raw, tar, tar+gzip, tar+zstd), Docker's GGUF and license layers and
//     Sigstore bundles (application/vnd.dev.sigstore.bundle*, unpacked as
//     raw files) is refused unless named (kind unsupported);
//  5. unpack into a private directory (mode 0700) through os.Root. A raw
//     layer is one file named by its org.cncf.model.filepath or
//     org.opencontainers.image.title annotation (a Sigstore bundle layer
//     without one is model.sig). A hard link in a tar layer to a file
//     unpacked before it is written as a copy of that file, as oras and
//     containerd link it. A tar layer refuses: absolute names, "..",
//     backslashes and NUL (path-traversal); hard links leaving the root,
//     and every symbolic link, inside the root too, as the directory
//     walker refuses one in a model directory (path-traversal); devices,
//     FIFOs and other special entries (unsupported); whiteouts .wh.*
//     (unsupported: a model artifact is not a filesystem diff); duplicate
//     names within or across layers, and hard links to a directory or to
//     a name not unpacked before them (malformed); sparse entries, in GNU
//     form or as any GNU.sparse.* PAX record, and PAX global headers,
//     which other unpackers would apply to later entries (unsupported);
//     more than MaxEntries entries, more than
//     MaxUnpackedBytes in all, or a compressed layer expanding beyond
//     MaxRatio times its size plus 1 MiB (limit-exceeded). A compressed
//     layer is decompressed to its end after the tar's, as containerd's
//     applier reads it: bytes after its last gzip member or zstd frame,
//     or a checksum that fails there, are malformed;
//  6. gate the tree exactly as a directory with loader.Open, under an
//     allowlist built from the manifest: a raw layer's file is approved by
//     the layer's own sha256 digest (its bytes are the blob), and a tar
//     layer's files by the sha256 computed while they were written, from a
//     stream whose layer digest was checked. loader.Open hashes the bytes
//     it loads again, so a file changed on disk after unpacking is refused
//     (digest-mismatch) and a file no layer produced is not-allowlisted.
//     When the loader options carry an allowlist of the caller's (a
//     policy's digests, loader.WithAllowlist), that allowlist alone
//     approves the files, exactly as for a directory: a file of the
//     artifact it does not list is not-allowlisted.
//
// When a files signature is required (RequireSignatures(SignedFiles),
// or a policy's signatures, whose signatures.oci default is "files"),
// loader.Open checks a model_signing bundle over the tree with the
// verifier, exactly as a directory holding model.sig: every file must
// be signed. The bundles tried, in order: the files of Sigstore bundle
// layers, a model.sig at the root of the tree, and referrers'
// model_signing bundles; none is not-allowlisted, a bundle the
// verifier refuses is its refusal (files that differ from the signed
// ones: digest-mismatch). A policy's signatures.bundle is a files
// signature kept beside the policy: when it names one, that bundle alone
// is checked, the artifact's are not tried; a policy that names a
// bundle but requires only the manifest signature is refused (kind
// usage), since the bundle would go unchecked.
//
// The unpacked directory is removed by Model.Close.
//
// For a scan of many artifacts, List names the tags of a repository, of
// every repository in a registry's catalog, or of a layout (a listing
// that fails is an entry carrying its error; a malformed scope is kind
// malformed), Resolve resolves one to its manifest digest and says
// whether the manifest holds signatures only (cosign simple-signing,
// Sigstore bundles, DSSE envelopes, or an index of such manifests), and
// Shard splits the tags among N workers by the SHA-256 of "REPO:TAG";
// ParseShard refuses anything but canonical "I/N" with 0 <= I < N <=
// MaxShards (kind usage).
package oci
