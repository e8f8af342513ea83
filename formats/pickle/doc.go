// Package pickle recognises pickle-bearing content so that modelgate can
// refuse it. It never unpickles, executes or "scans and hopes": a pickle is
// refused whatever it imports, so no blocklist can be incomplete
// (CVE-2025-1716).
//
// Classify names what a file is from its content alone (names are never
// read, CVE-2025-1889, CVE-2025-10155):
//
//   - raw pickles of protocols 2 to 5 by their PROTO opcode, and of
//     protocols 0 and 1 (which have no marker) by walking their first
//     opcodes: a run of well-formed opcodes that reaches STOP, imports
//     something, or goes on for eight opcodes;
//   - PyTorch checkpoints: the zip layout (*/data.pkl beside */version or
//     byteorder), the pre-1.6 stacked-pickle stream (its magic number) and
//     the oldest tar layout (sys_info, pickle, storages, tensors);
//   - joblib files (a pickle importing joblib.*) and pickles wrapped in
//     gzip, bzip2, xz, zlib or lz4: at most PeekBytes are decompressed;
//   - zip archives: every member name is listed from the central directory
//     (leniently, so that a zip the strict layer would refuse is still
//     named), members named *.pkl, *.pickle or *.joblib, and any member
//     whose first bytes are a pickle (CVE-2025-1944, CVE-2025-1945: flag
//     bits and local names do not hide a member; CVE-2025-10156: a bad CRC
//     does not either, since the peek ignores it);
//   - tar archives with a member that is a pickle;
//   - safetensors, npy, npz and GGUF (formats.Accepted, the only formats
//     that may go on to a strict parser), ONNX, HDF5, Keras zips, 7z, and
//     unknown content.
//
// "Not a pickle" is decided as CPython 3.11's unpickler (_pickle.c, and
// pickle.py, which joblib uses) decides it: the walk fails only where
// pickle.load raises, and where it raises whatever an opcode's argument
// holds it fails before reading the argument (a persistent id with no
// persistent_load, a memo put on an empty stack, a get before any put, an
// extension code <= 0, a number or STRING argument CPython cannot parse,
// a declared length past the end of the content), so that a text
// argument with no newline in the first MaxWalkBytes does not leave it
// undecided. Content undecided at that bound is a pickle. Content that is
// structurally safetensors, npy, npz or GGUF and whose walk is an inert
// pickle (it reaches STOP with no import or call, and nothing after it
// loads: pickle.load returns a number, string or container) is that
// format: valid safetensors header lengths such as 0x2e88 (NEWTRUE, STOP)
// are such pickles.
//
// For a better message the opcode walk names the imports a pickle would
// perform (GLOBAL, INST, and STACK_GLOBAL through string constants and the
// memo), at most MaxImports of them within MaxWalkBytes; this never
// changes the verdict.
//
// Verdict.Refusal maps a verdict to the refusal: kind formats.KindPickle
// for anything carrying a pickle, formats.KindUnknownFormat for content
// that is no known format, formats.KindUnsupported otherwise. An object
// array inside an npy or npz is found by the npy reader, which refuses it
// as a pickle too.
//
// # Declared lengths and what bounds them
//
// Classification reads fixed amounts, whatever the content declares:
//
//   - the opcode walk reads at most MaxWalkBytes (1 MiB) of the file into
//     one buffer; an opcode's declared argument length (BINBYTES8,
//     BINUNICODE8, FRAME, ...) is only compared with what is left of that
//     buffer, never allocated; the memo holds at most 65,536 strings, each
//     a slice of the buffer, and at most MaxImports imports are named;
//   - compressed streams: at most PeekBytes (64 KiB) are inflated;
//   - zip archives: members are listed by strictzip.List (the central
//     directory streamed, at most Limits.MaxTensors entries a reading, at
//     most 32 readings), and at most PeekBytes of each member are peeked;
//   - tar archives: headers are walked within the first MaxWalkBytes.
package pickle
