// Package safetensors reads and writes safetensors files strictly.
//
// A safetensors file is an 8-byte little-endian header length N, a JSON
// header of N bytes, and a data section. NewReader reads the length and the
// header only, from an io.ReaderAt, and checks every field before anything
// is allocated from it. Tensor data is handed out as an *io.SectionReader,
// or without copying as a sub-slice when the file is in memory
// (NewReaderBytes).
//
// NewReader refuses, with kind formats.KindMalformed unless noted:
//
//   - a file shorter than 8 bytes;
//   - a header length of 0, or one that runs past the end of the file;
//   - a header over [formats.Limits].MaxHeaderBytes (KindLimitExceeded;
//     the default admits at most 99,999,999 bytes, as MLX does);
//   - a header that is not valid UTF-8, does not start with '{' (leading
//     whitespace included), is not one JSON object, or has anything but
//     JSON whitespace (space, tab, CR, LF) after the object: NUL padding
//     is refused;
//   - invalid JSON: control characters or invalid escapes in strings, lone
//     UTF-16 surrogates, numbers with a sign, fraction, exponent or leading
//     zero, numbers above 2^53;
//   - duplicate keys at any level (compared after unescaping);
//   - keys containing NUL, or longer than Limits.MaxNameBytes
//     (KindLimitExceeded);
//   - __metadata__ that is not an object of string values (null included);
//   - a tensor entry that is not an object, lacks one of dtype, shape and
//     data_offsets, or has any other field;
//   - an unknown dtype (names are case-sensitive: see formats.DType);
//   - a shape that is not an array of integers, data_offsets that are not
//     an array of exactly two integers;
//   - more tensors than Limits.MaxTensors, more dimensions than
//     Limits.MaxRank, a dimension over Limits.MaxDim (default: the int32
//     range, which MLX would truncate), data beyond Limits.MaxTotalBytes
//     (all KindLimitExceeded);
//   - a shape whose element or bit count overflows int64, or whose bits are
//     not a whole number of bytes (sub-byte types F4, F6_*);
//   - data_offsets whose length is not exactly the shape's byte size;
//   - data that, sorted by offset, does not start at 0, overlaps or aliases
//     a previous tensor, leaves a hole, runs past the end of the file, or
//     does not end exactly at the end of the file (trailing bytes are how
//     polyglot files hide a second format).
//
// It accepts every valid file: JSON key order independent of offset order,
// zero-size tensors (several may share an offset), scalars (shape []),
// headers padded with spaces, headers whose length is not a multiple of 8
// (data may be misaligned; it is never reinterpreted in place), and files
// with metadata and no tensors.
//
// Where it is stricter than the reference implementation (huggingface's
// Rust crate) and github.com/nlpodyssey/safetensors, the difference is one
// of the rules above and is listed, with the reason, in the differential
// tests.
//
// Write produces canonical files, which NewReader accepts and which parse,
// write and parse again to the same header bytes.
//
// # Declared lengths and what bounds them
//
// Nothing is allocated or read from a length the file declares before the
// length is checked against the file and the limits:
//
//   - the 8-byte header length: within the file and at most
//     Limits.MaxHeaderBytes (default just under 100 MB), then read in one
//     buffer, which tensor names and metadata strings share (NewReader
//     does; NewReaderMapped parses the mapping in place);
//   - the tensor count: the table is allocated for at most the entries
//     the header's length could hold, or Limits.MaxTensors, and the count
//     is checked against Limits.MaxTensors as entries are read;
//   - __metadata__: at most Limits.MaxMetadataEntries entries and
//     Limits.MaxMetadataBytes bytes, counted before the map is built;
//   - names and keys: at most Limits.MaxNameBytes each;
//   - shapes: rank at most Limits.MaxRank, each dimension at most
//     Limits.MaxDim, products checked for overflow (formats.DataSize);
//   - data_offsets: within the file and equal to the shape's size, total at
//     most Limits.MaxTotalBytes; tensor data is never read by the parser,
//     only handed out as sections or slices.
package safetensors
