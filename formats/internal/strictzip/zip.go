// Package strictzip reads zip archives for modelgate's npz reader and
// pickle detector, refusing every ambiguity a zip can carry.
//
// archive/zip trusts the central directory: it never compares it with the
// local headers that other tools read, it accepts data before the first
// entry, between entries and after the directory, and entries whose bytes
// overlap (the overlapping-file zip bomb). Scanners that agreed with one
// view while loaders used the other were bypassed that way
// (CVE-2025-1944, CVE-2025-1945). This package parses both views and
// refuses, with kind formats.KindMalformed unless noted:
//
//   - an end-of-central-directory record that is missing, followed by
//     anything but its own comment, or that names another disk;
//   - a ZIP64 end record or locator that is malformed or inconsistent;
//   - a central directory that does not end where the end record starts, or
//     with more entries than formats.Limits.MaxTensors (KindLimitExceeded);
//   - malformed extra fields, and ZIP64 extras missing where a field says
//     0xFFFFFFFF;
//   - entries whose local header differs from the central directory in
//     name, flags, method, CRC-32 or sizes (extra fields may differ: numpy's
//     own writer puts a ZIP64 extra in local headers only);
//   - encryption, patched data, strong encryption, masked headers and
//     unknown flag bits (KindUnsupported);
//   - for an entry with a data descriptor (what Python's zipfile, and so
//     numpy, writes to a stream that cannot seek): local CRC and sizes that
//     are neither zero nor the central directory's, a descriptor that is
//     missing or disagrees with the central directory;
//   - compression methods other than stored and deflate (KindUnsupported);
//   - a central directory entry needing a zip version above 6.3 to extract
//     (KindUnsupported), which Python's zipfile, and so numpy.load, refuses;
//   - bytes before the first entry, between entries, or between the last
//     entry and the central directory, and entries that overlap;
//   - duplicate names (compared exactly).
//
// Entry data is read through Open, which checks the size and CRC-32 of
// what it returns, and caps what deflate may produce by
// Limits.MaxDecompressedBytes and Limits.MaxCompressionRatio
// (KindLimitExceeded) before inflating anything.
//
// # Declared lengths and what bounds them
//
// Nothing is allocated from a length the archive declares until the
// length has been checked against the file and the limits:
//
//   - the end record's comment: found in the last 22 + 65,535 bytes, the
//     one fixed read of the tail;
//   - the central directory's entry count: at most Limits.MaxTensors, and
//     46 bytes each within the declared directory size (checkDirectory,
//     the one home of that check); the entry slice and name set are
//     allocated for that count;
//   - the central directory's size and offset: within the file; the
//     directory is streamed through a 64 KiB buffer, entry by entry, never
//     allocated whole, so a declared size costs only what entries fill;
//   - an entry's name, extra field and comment: 16-bit lengths (at most
//     3 x 65,535 bytes, one reused buffer), within the declared directory
//     (central) or the file (local); extra fields are walked in place,
//     each sub-field's length checked against what is left of them;
//   - an entry's sizes and offset: within the file; a data descriptor is
//     at most 24 bytes;
//   - an entry's uncompressed size: Open streams it; ReadAll allocates it
//     only after checkInflate (MaxDecompressedBytes, MaxCompressionRatio)
//     for deflate (formats/npy calls it for deflated members only; a
//     stored member is read in place);
//   - ZIP64 records: fixed 56- and 20-byte reads, whose values are checked
//     against the file before use.
package strictzip

import (
	"encoding/binary"
	"io"

	"github.com/modelgate/modelgate/formats"
)

// Compression methods modelgate reads.
const (
	Store   uint16 = 0
	Deflate uint16 = 8
)

// Entry is one member of an archive, as both headers agree it is.
type Entry struct {
	Name             string // the name as Python's zipfile (and so numpy) decodes it
	Raw              string // the name's bytes, as stored
	Flags            uint16
	Method           uint16
	CRC32            uint32
	CompressedSize   int64
	UncompressedSize int64
	HeaderOffset     int64  // offset of the local header
	DataOffset       int64  // offset of the (compressed) data
	Mode             uint32 // Unix mode from the external attributes, 0 if none
	UTF8             bool   // flag bit 11: the name is UTF-8
	descriptor       int64  // length of the data descriptor after the data
}

// Symlink reports whether the entry is a Unix symbolic link.
func (e *Entry) Symlink() bool { return e.Mode&0o170000 == 0o120000 }

// Dir reports whether the entry is a directory.
func (e *Entry) Dir() bool {
	return e.Mode&0o170000 == 0o040000 || (len(e.Name) > 0 && e.Name[len(e.Name)-1] == '/')
}

// Reader is a parsed archive.
type Reader struct {
	r       io.ReaderAt
	size    int64
	lim     formats.Limits
	strict  bool
	Entries []*Entry // in central directory order
}

const (
	sigLocal     = 0x04034b50
	sigCentral   = 0x02014b50
	sigEnd       = 0x06054b50
	sigEnd64     = 0x06064b50
	sigLocator64 = 0x07064b50

	localLen     = 30
	centralLen   = 46
	endLen       = 22
	end64Len     = 56
	locator64Len = 20
	maxComment   = 0xFFFF

	// maxExtractVersion is zipfile.MAX_EXTRACT_VERSION (CPython 3.11): 6.3.
	maxExtractVersion = 63

	allowedFlags   = 0x0002 | 0x0004 | 0x0008 | 0x0800 // deflate options, data descriptor, UTF-8 names
	flagDescriptor = 0x0008
	sigDescriptor  = 0x08074b50
)

// le reads little-endian fields from a header in sequence.
type le []byte

func (b *le) u16() uint16 { v := binary.LittleEndian.Uint16(*b); *b = (*b)[2:]; return v }
func (b *le) u32() uint32 { v := binary.LittleEndian.Uint32(*b); *b = (*b)[4:]; return v }
func (b *le) u64() uint64 { v := binary.LittleEndian.Uint64(*b); *b = (*b)[8:]; return v }
func (b *le) skip(n int)  { *b = (*b)[n:] }

func malformed(off int64, format string, args ...any) *formats.Error {
	return formats.Errorf(formats.KindMalformed, off, format, args...)
}

// readAt reads exactly n bytes at off, which the caller has checked lie
// within the archive.
func (z *Reader) readAt(off int64, n int) ([]byte, *formats.Error) {
	buf := make([]byte, n)
	if n == 0 {
		return buf, nil // ReadAt may say EOF for nothing at the end
	}
	if _, err := z.r.ReadAt(buf, off); err != nil {
		return nil, formats.IOError(off, err)
	}
	return buf, nil
}
