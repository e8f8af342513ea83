// Package npy reads numpy's .npy files and .npz archives strictly.
//
// numpy parses .npy headers with ast.literal_eval and MLX by fixed byte
// positions (CVE-2025-62608 was a heap over-read from NUL bytes in a
// header). This package parses the header with a small grammar for exactly
// the Python literals numpy writes, evaluates nothing, and refuses, with
// kind formats.KindMalformed unless noted:
//
//   - a file without the "\x93NUMPY" magic or shorter than its prefix;
//   - format versions other than 1.0, 2.0 and 3.0 (KindUnsupported);
//   - a header over formats.Limits.MaxNpyHeaderBytes (default 10,000, as
//     numpy; KindLimitExceeded), or running past the end of the file;
//   - NUL bytes anywhere in the header; non-ASCII bytes in a 1.0 or 2.0
//     header; invalid UTF-8 in a 3.0 header;
//   - a header that does not end with '\n', or has anything but spaces
//     after its dict;
//   - anything but string, integer, True/False, tuple, list and dict
//     literals, nesting deeper than 8, escapes other than \\ \' \";
//   - a dict whose keys are not exactly descr, fortran_order and shape
//     (duplicates included);
//   - fortran_order that is not True or False; shape that is not a tuple of
//     non-negative integers (one-element tuples need their comma); a
//     Python 2 "L" suffix in a 3.0 header;
//   - object dtypes ("|O", "|O8"), alone or as a field of a structured
//     dtype at any depth: the data is a pickle (KindPickle);
//   - structured, string, unicode, void, datetime, timedelta and
//     extended-precision dtypes (KindUnsupported, naming the dtype);
//   - a descr without an explicit byte order ('<', '>' or '|'), with native
//     order '=', or with '|' on a multi-byte type;
//   - ranks, dimensions and products beyond Limits or int64, as
//     formats.DataSize checks them;
//   - data that is not exactly product(shape) x itemsize bytes up to the
//     end of the file (or member).
//
// It accepts every .npy numpy writes: either quote style, trailing commas,
// spaces, 16- and 64-byte aligned headers, big-endian and Fortran-order
// arrays (reported in Array, never reinterpreted), scalars and empty arrays.
//
// An .npz archive is read on a strict zip layer (see the internal package
// strictzip for every zip-level refusal: local and central headers (and
// data descriptors, which numpy writes to pipes) must agree, no data
// before, between or after entries, no overlaps, no encryption, no methods
// beyond stored and deflate).
// NewArchive then refuses, per member:
//
//   - symbolic links, absolute names, names with a '..' element, a
//     backslash or a drive letter (KindPathTraversal);
//   - empty names, names with NUL or not UTF-8, names that are not clean
//     relative paths (KindMalformed);
//   - two names that are the same once ".npy" is stripped (numpy keeps the
//     last, MLX the first);
//   - members named *.pkl, and any member whose content is a pickle
//     (KindPickle), whatever its name;
//   - other non-.npy members and directories (KindUnsupported);
//   - deflated members beyond Limits.MaxDecompressedBytes in all, or with a
//     compression ratio over Limits.MaxCompressionRatio (KindLimitExceeded),
//     checked before anything is inflated; a member whose inflated size or
//     CRC-32 differs from its headers;
//   - data beyond Limits.MaxTotalBytes in all (KindLimitExceeded).
//
// Stored members are checked (CRC-32) in one pass at open and then handed
// out as sections of the archive, or zero-copy slices when it is in
// memory; deflated members are inflated into memory once.
//
// # Declared lengths and what bounds them
//
//   - the header length (16-bit in 1.0, 32-bit in 2.0 and 3.0): at most
//     Limits.MaxNpyHeaderBytes (default 10,000) and within the file (or
//     member) before the header is read;
//   - shape: rank, dimensions and the product times the item size, checked
//     by formats.DataSize against Limits and int64, and the data must be
//     exactly that long; it is never read by the parser;
//   - npz: every zip-level length as strictzip lists them (the central
//     directory is streamed, never allocated whole); a deflated member is
//     inflated into memory only after its declared size has been added to
//     the archive's total and checked against Limits.MaxDecompressedBytes
//     and its ratio against Limits.MaxCompressionRatio; member count at most
//     Limits.MaxTensors.
package npy
