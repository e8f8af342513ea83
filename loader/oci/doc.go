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
//  2. under WithSignatureVerifier, find the manifest's Sigstore bundles
//     stored as OCI referrers (subject the manifest, a layer of media
//     type application/vnd.dev.sigstore.bundle*, as cosign v2.6.5
//     --new-bundle-format writes them)
//     and require one the verifier accepts over the manifest digest;
//     without referrers, cosign's older scheme: a manifest tagged
//     sha256-HEX.sig whose simple-signing payload names the manifest
//     digest, its signature checked by the same verifier (none:
//     not-allowlisted; a bad one, or a payload naming another manifest:
//     signature-invalid), before any layer is fetched;
//  3. fetch the manifest and the config within MaxManifestBytes, checking
//     each against its digest and size (kind digest-mismatch); a manifest
//     whose media type differs from its descriptor's, or a config or
//     artifact type that is neither ModelPack's nor Docker's model config,
//     is refused unless WithMediaTypes names it (kind unsupported);
//  4. stream each layer once, hashing it as it lands: a blob whose digest
//     or size differs from its descriptor's is refused (digest-mismatch),
//     and nothing unpacked from it is ever gated; a layer media type other
//     than ModelPack's weight, weight.config, doc, code and dataset types
//     (raw, tar, tar+gzip, tar+zstd) and Docker's GGUF and license layers
//     is refused unless named (kind unsupported);
//  5. unpack into a private directory (mode 0700) through os.Root. A raw
//     layer is one file named by its org.cncf.model.filepath or
//     org.opencontainers.image.title annotation. A tar layer refuses:
//     absolute names, "..", backslashes and NUL (path-traversal); symbolic
//     links and hard links leaving the root (path-traversal), and those
//     inside it (unsupported: modelgate unpacks regular files and
//     directories only); devices, FIFOs and other special entries
//     (unsupported); whiteouts .wh.* (unsupported: a model artifact is not
//     a filesystem diff); duplicate names within or across layers
//     (malformed); sparse entries, in GNU or PAX form, and PAX global
//     headers, which other unpackers would apply to later entries
//     (unsupported); more than MaxEntries entries, more than
//     MaxUnpackedBytes in all, or a compressed layer expanding beyond
//     MaxRatio times its size plus 1 MiB (limit-exceeded);
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
