// Package loader is modelgate's front door: one call from an untrusted
// path to verified, parsed tensors that a Go service can hand to MLX.
//
// Open confines every file access to an os.Root (names in sharded indexes
// and symbolic links cannot leave it), identifies each file by content
// (formats/pickle: anything carrying a pickle is refused), hashes and
// checks digests against a policy or allowlist, parses safetensors, npy
// and npz strictly, applies a runtime profile (ProfileMLX), and re-checks
// that no file changed meanwhile. The bytes it hashed are the bytes it
// parses and hands out: a read-only mapping by default (ModeMap), or a
// private copy made while hashing (ModePrivateCopy) when the file system
// itself is not trusted. Opening costs time and memory proportional to the
// headers, not the data, unless a digest or a private copy is asked for.
//
// Model.WriteSafetensors rewrites what was verified as one canonical
// safetensors file (npz included), so that the bytes MLX parses are ones
// every parser reads the same way. Hand the result to MLX as a path for
// mx.load (write it to a directory the MLX worker reads), or pass
// Model.Bytes slices to mlx-c's array constructors while the Model is
// open.
//
// Parse and Scan are the lower layers: classify and parse one file; walk
// directories for a CI gate.
//
// # What Open holds, and what bounds it
//
// Memory and descriptors do not grow with the model's size:
//
//   - a file is open only while it is identified, unless it holds a read
//     lease and will be parsed (weights, a sharded index): at most 256
//     such files stay open; the rest are reopened, and checked to be the
//     same file, when they are hashed or read (see Mode);
//   - hashing reads verify.ChunkSize at a time; a file no lease protects
//     is rehashed (at most 2 MiB of chunk digests per file, two chunks
//     cached per model), never copied into memory unless ModePrivateCopy
//     asks for it;
//   - a sharded index is read whole, after its size is checked against
//     MaxIndexBytes (32 MiB); its metadata and tensor count are bounded by
//     Limits and MaxIndexTensors;
//   - every parser's declared lengths are bounded as its package doc lists
//     (formats/safetensors, formats/npy, strictzip, formats/pickle,
//     formats/gguf), and formats/content reads at most 8 KiB of a file to
//     identify it and at most 64 MiB of a JSON file to look for auto_map.
//
// WriteSafetensors (convert, the service's outbox) streams every tensor,
// byte-swapping big-endian data as it copies; it holds one tensor in
// memory only to reorder Fortran-order npy data or convert GGUF blocks
// for MLX, each made when written and let go after.
package loader
