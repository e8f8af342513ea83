// Package gguf reads GGUF files (ggml's format, which MLX's mx.load reads
// through gguflib) strictly, from an io.ReaderAt: the header, the metadata
// and the tensor infos, never the tensor data. Every count and length is
// checked against the file's size and formats.Limits before anything is
// allocated for it.
//
// Refused with kind formats.KindUnsupported:
//
//   - GGUF version 1 (32-bit counts), big-endian files (the version is
//     byte-swapped) and versions other than 2 and 3;
//   - nested metadata arrays (llama.cpp and gguflib do not read them);
//   - ggml types ggml lists as removed (4, 5, 31-33, 36-38) or that are
//     past its table (types.go names the ggml commit it was taken from).
//
// Refused with kind formats.KindLimitExceeded: more tensors than MaxTensors,
// more metadata pairs than MaxMetadataEntries, metadata over
// MaxMetadataBytes (a string or an array is refused from its declared
// length, before it is read: a string by its length, an array by its
// length times the least one element takes), a key over MaxNameBytes or
// 65,535 bytes, a tensor name of 64 bytes (GGML_MAX_NAME) or more, a
// dimension over MaxDim, tensor data over MaxTotalBytes.
//
// Refused with kind formats.KindMalformed: no "GGUF" magic; counts that
// cannot fit in the file; any field running past the end; keys that are
// empty or not printable ASCII; duplicate keys; unknown value types;
// booleans other than 0 and 1; arrays longer than the rest of the file
// could hold; strings (values and array elements) that hold a NUL or are
// not UTF-8 (llama.cpp's C API cuts them at the NUL, gguf-py raises on
// invalid UTF-8, @huggingface/gguf substitutes U+FFFD); general.alignment
// that is not a uint32 power of two up to MaxAlignment (1 MiB); tensor
// names that are empty, not UTF-8, hold a NUL or repeat; tensors with 0 or more than 4 dimensions, a dimension of 0,
// an element count that overflows, a first dimension that is not a multiple
// of the type's block size, or an offset that is not a multiple of the
// alignment; a data section that would start past the file; header
// padding or trailing padding that is not zero; a tensor whose offset is
// not the padded end of the tensor listed before it (ggml's "has offset X,
// expected Y": infos listed in another order than their data, overlaps,
// holes); tensors that run past the file; and anything after the last
// tensor but its padding.
//
// What it accepts: every type of ggml's table with ggml's block and type
// sizes (types.go), and metadata of every value type.
//
// # Declared lengths and what bounds them
//
// Nothing is allocated or read for a length before it is checked:
//
//   - tensor count: at most Limits.MaxTensors, and the least a tensor info
//     takes times the count must fit in the file;
//   - metadata pair count: at most Limits.MaxMetadataEntries, and must fit
//     in the file likewise;
//   - a key's length: at most Limits.MaxNameBytes and 65,535, and within
//     the file;
//   - a string's length (a value, an array element, a tensor name):
//     against what is left of Limits.MaxMetadataBytes (tensor names: under
//     64 bytes) and the file, before it is read;
//   - an array's length: times the least one element takes, against what
//     is left of Limits.MaxMetadataBytes and the file, before the typed
//     slice is made;
//   - dimensions: each at most Limits.MaxDim, their product checked for
//     overflow, the data size from ggml's block and type sizes against
//     Limits.MaxTotalBytes and the file;
//   - general.alignment: a power of two up to 1 MiB.
package gguf
