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
package loader
