package strictzip

import (
	"cmp"
	"encoding/binary"
	"io"
	"slices"

	"github.com/modelgate/modelgate/formats"
)

// NewReader parses the archive of the given size read from r: its end
// records, its central directory and every local header. It reads no
// entry data.
func NewReader(r io.ReaderAt, size int64, lim formats.Limits) (*Reader, error) {
	z := &Reader{r: r, size: size, lim: lim.WithDefaults(), strict: true}
	if err := z.init(); err != nil {
		return nil, err
	}
	return z, nil
}

// directory is what the end records say about the central directory.
type directory struct {
	entries uint64
	offset  int64 // of the central directory
	size    int64
	end     int64 // where the end records start (and the central directory must end)
}

func (z *Reader) init() *formats.Error {
	dir, err := z.findDirectory()
	if err != nil {
		return err
	}
	if dir.offset < 0 || dir.size < 0 || dir.offset > dir.end || dir.size != dir.end-dir.offset {
		return malformed(dir.end, "central directory [%d, +%d) does not end where the end record starts (%d)", dir.offset, dir.size, dir.end)
	}
	if err := z.parseCentral(dir, z.strict); err != nil {
		return err
	}
	if !z.strict {
		return nil
	}
	for _, e := range z.Entries {
		if err := z.checkLocal(e); err != nil {
			return err
		}
	}
	return z.checkTiling(dir.offset)
}

// findDirectory locates the end-of-central-directory record, which must be
// followed by exactly its comment, and the ZIP64 records when it needs them.
func (z *Reader) findDirectory() (directory, *formats.Error) {
	tailLen := min(z.size, endLen+maxComment)
	if tailLen < endLen {
		return directory{}, malformed(0, "file is %d bytes, too short for a zip archive", z.size)
	}
	tailOff := z.size - tailLen
	tail, err := z.readAt(tailOff, int(tailLen))
	if err != nil {
		return directory{}, err
	}
	for i := len(tail) - endLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(tail[i:]) != sigEnd {
			continue
		}
		if commentLen := int(binary.LittleEndian.Uint16(tail[i+20:])); i+endLen+commentLen == len(tail) {
			if sig := signatureIn(tail[i+endLen:]); sig >= 0 {
				return directory{}, malformed(tailOff+int64(i+endLen+sig), "the archive comment holds a zip signature: readers that search for the end record (zipfile, miniz) would find another archive there")
			}
			return z.parseEnd(tail[i:i+endLen], tailOff+int64(i))
		}
	}
	return directory{}, malformed(z.size, "no end-of-central-directory record ending the file")
}

func (z *Reader) parseEnd(b le, at int64) (directory, *formats.Error) {
	b.skip(4)
	disk, cdDisk := b.u16(), b.u16()
	onDisk, total := b.u16(), b.u16()
	size, offset := b.u32(), b.u32()
	if disk != 0 || cdDisk != 0 || onDisk != total {
		return directory{}, formats.Errorf(formats.KindUnsupported, at, "multi-disk archive (disk %d, directory disk %d, %d of %d entries here)", disk, cdDisk, onDisk, total)
	}
	dir := directory{entries: uint64(total), offset: int64(offset), size: int64(size), end: at}
	sentinel := total == 0xFFFF || size == 0xFFFFFFFF || offset == 0xFFFFFFFF
	if !sentinel && !z.hasLocator(at) {
		return dir, nil
	}
	// ZIP64 records are used when the end record needs them, and must agree
	// with it when a writer adds them anyway (PyTorch's always does).
	dir64, err := z.parseEnd64(dir)
	if err != nil {
		return dir, err
	}
	if (total != 0xFFFF && uint64(total) != dir64.entries) || (size != 0xFFFFFFFF && int64(size) != dir64.size) ||
		(offset != 0xFFFFFFFF && int64(offset) != dir64.offset) {
		return dir, malformed(at, "end record and ZIP64 end record disagree")
	}
	return dir64, nil
}

// hasLocator reports whether a ZIP64 locator signature sits just before the
// end record at end.
func (z *Reader) hasLocator(end int64) bool {
	if end < locator64Len {
		return false
	}
	var sig [4]byte
	if _, err := z.r.ReadAt(sig[:], end-locator64Len); err != nil {
		return false
	}
	return binary.LittleEndian.Uint32(sig[:]) == sigLocator64
}

// parseEnd64 reads the ZIP64 locator just before the end record and the
// ZIP64 end record it points to, which must end where the locator starts.
func (z *Reader) parseEnd64(dir directory) (directory, *formats.Error) {
	locOff := dir.end - locator64Len
	if locOff < 0 {
		return dir, malformed(dir.end, "ZIP64 values without a ZIP64 locator")
	}
	b, err := z.readAt(locOff, locator64Len)
	if err != nil {
		return dir, err
	}
	loc := le(b)
	if loc.u32() != sigLocator64 {
		return dir, malformed(locOff, "ZIP64 values without a ZIP64 locator")
	}
	disk, recOff, disks := loc.u32(), loc.u64(), loc.u32()
	if disk != 0 || disks != 1 {
		return dir, formats.Errorf(formats.KindUnsupported, locOff, "multi-disk ZIP64 archive")
	}
	// zipfile reads the record at the fixed position before the locator,
	// miniz and archive/zip where the locator points: both must be the
	// same 56 bytes, with no extensible data another reader could parse.
	if recOff != uint64(locOff-end64Len) {
		return dir, malformed(locOff, "ZIP64 end record at %d is not the 56 bytes before its locator (%d)", recOff, locOff-end64Len)
	}
	b, err = z.readAt(int64(recOff), end64Len)
	if err != nil {
		return dir, err
	}
	rec := le(b)
	if rec.u32() != sigEnd64 {
		return dir, malformed(int64(recOff), "no ZIP64 end record where the locator points")
	}
	if recSize := rec.u64(); recSize != end64Len-12 {
		return dir, malformed(int64(recOff), "ZIP64 end record says it is %d bytes; only the fixed 44 (no extensible data) are read", recSize)
	}
	rec.skip(4) // versions
	disk64, cdDisk64 := rec.u32(), rec.u32()
	onDisk, total, size, offset := rec.u64(), rec.u64(), rec.u64(), rec.u64()
	if disk64 != 0 || cdDisk64 != 0 || onDisk != total {
		return dir, formats.Errorf(formats.KindUnsupported, int64(recOff), "multi-disk ZIP64 archive")
	}
	if size > uint64(z.size) || offset > uint64(z.size) {
		return dir, malformed(int64(recOff), "ZIP64 central directory [%d, +%d) is outside the file", offset, size)
	}
	return directory{entries: total, offset: int64(offset), size: int64(size), end: int64(recOff)}, nil
}

// checkTiling checks that the entries, sorted by offset, cover
// [0, dirOffset) exactly: no prepended, interleaved or appended bytes and
// no overlap.
func (z *Reader) checkTiling(dirOffset int64) *formats.Error {
	sorted := slices.Clone(z.Entries)
	slices.SortFunc(sorted, func(a, b *Entry) int { return cmp.Compare(a.HeaderOffset, b.HeaderOffset) })
	var pos int64
	for _, e := range sorted {
		switch {
		case e.HeaderOffset < pos:
			return malformed(e.HeaderOffset, "entry %q overlaps the entry before it, which ends at %d", e.Name, pos)
		case e.HeaderOffset > pos:
			return malformed(pos, "%d bytes of unaccounted data before entry %q", e.HeaderOffset-pos, e.Name)
		}
		pos = e.DataOffset + e.CompressedSize + e.descriptor
	}
	if pos != dirOffset {
		if pos > dirOffset {
			return malformed(dirOffset, "entry data runs into the central directory")
		}
		return malformed(pos, "%d bytes of unaccounted data before the central directory", dirOffset-pos)
	}
	return nil
}

// signatures are the record signatures a zip reader searches for or
// follows.
var signatures = []uint32{sigLocal, sigCentral, sigEnd, sigEnd64, sigLocator64, sigDescriptor}

// signatureIn returns the offset of the first zip record signature in b,
// or -1.
func signatureIn(b []byte) int {
	for i := 0; i+4 <= len(b); i++ {
		if b[i] != 'P' || b[i+1] != 'K' {
			continue
		}
		v := binary.LittleEndian.Uint32(b[i:])
		for _, s := range signatures {
			if v == s {
				return i
			}
		}
	}
	return -1
}
