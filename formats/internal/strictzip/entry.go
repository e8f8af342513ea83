package strictzip

import (
	"bufio"
	"encoding/binary"
	"io"
	"slices"

	"github.com/modelgate/modelgate/formats"
)

const (
	maxU16 = 0xFFFF
	maxU32 = 0xFFFFFFFF
)

// checkDirectory is the one check of a central directory's declared
// entry count, before anything is allocated for it: at most MaxTensors
// entries, each of at least the fixed 46 bytes within the declared size
// (which the callers have checked lies within the file).
func (z *Reader) checkDirectory(dir directory) *formats.Error {
	if dir.entries > uint64(z.lim.MaxTensors) {
		return formats.Exceeded(dir.end, "entry count", int64(min(dir.entries, 1<<62)), "MaxTensors", z.lim.MaxTensors)
	}
	if dir.entries*centralLen > uint64(dir.size) {
		return malformed(dir.end, "%d entries cannot fit in a %d-byte central directory", dir.entries, dir.size)
	}
	return nil
}

// directoryBuffer is what parseCentral reads the central directory
// through: the directory is streamed, never allocated whole, so that a
// declared size costs nothing until entries fill it (archive/zip reads it
// through bufio the same way).
const directoryBuffer = 64 << 10

// parseCentral reads the central directory dir declares, one entry at a
// time. What it allocates is bounded by checked counts: the entries
// (checkDirectory), and per entry its fixed fields and at most 3 x 65,535
// bytes of name, extra field and comment.
func (z *Reader) parseCentral(dir directory, strict bool) *formats.Error {
	if err := z.checkDirectory(dir); err != nil {
		return err
	}
	seen := make(map[string]bool, dir.entries)
	var err *formats.Error
	z.Entries = make([]*Entry, 0, dir.entries)
	src := bufio.NewReaderSize(io.NewSectionReader(z.r, dir.offset, dir.size), int(min(dir.size+1, directoryBuffer)))
	var fixed [centralLen]byte
	var v []byte
	pos := int64(0)
	for i := uint64(0); i < dir.entries; i++ {
		at := dir.offset + pos
		if dir.size-pos < centralLen {
			return malformed(at, "central directory ends inside entry %d", i)
		}
		if _, rerr := io.ReadFull(src, fixed[:]); rerr != nil {
			return formats.IOError(at, rerr)
		}
		b := le(fixed[:])
		if b.u32() != sigCentral {
			return malformed(at, "no central directory header for entry %d", i)
		}
		made := b.u16()
		// Python's zipfile reads the low byte of "version needed to
		// extract" and refuses an archive above 6.3 (MAX_EXTRACT_VERSION);
		// numpy.load reads npz through it.
		if needed := b.u16() & 0xff; needed > maxExtractVersion {
			return formats.Errorf(formats.KindUnsupported, at, "entry %d needs zip version %d.%d to extract; Python's zipfile reads up to 6.3", i, needed/10, needed%10)
		}
		e := &Entry{Flags: b.u16(), Method: b.u16()}
		b.skip(4) // time, date
		e.CRC32 = b.u32()
		csize, usize := b.u32(), b.u32()
		nameLen, extraLen, commentLen := int(b.u16()), int(b.u16()), int(b.u16())
		diskStart := b.u16()
		b.skip(2) // internal attributes
		external, offset := b.u32(), b.u32()
		varLen := nameLen + extraLen + commentLen // at most 3 x 65,535
		if dir.size-pos-centralLen < int64(varLen) {
			return malformed(at, "central directory entry %d runs past the directory", i)
		}
		v = slices.Grow(v[:0], varLen)[:varLen]
		if _, rerr := io.ReadFull(src, v); rerr != nil {
			return formats.IOError(at, rerr)
		}
		e.Raw = string(v[:nameLen])
		if e.Name, err = z.name(e, at, strict); err != nil {
			return err
		}
		if seen[e.Name] {
			return malformed(at, "duplicate entry name %q (as zipfile decodes names)", e.Name)
		}
		seen[e.Name] = true
		var z64 zip64Values
		z64, err = zip64Extra(v[nameLen:nameLen+extraLen], at, zip64Need{usize == maxU32, csize == maxU32, offset == maxU32, diskStart == maxU16})
		if err != nil {
			return err
		}
		if diskStart != 0 && diskStart != maxU16 || z64.disk != 0 {
			return formats.Errorf(formats.KindUnsupported, at, "entry %q is on another disk", e.Name)
		}
		e.UncompressedSize = pick(usize, z64.usize)
		e.CompressedSize = pick(csize, z64.csize)
		e.HeaderOffset = pick(offset, z64.offset)
		if made>>8 == 3 { // Unix
			e.Mode = external >> 16
		}
		if err := z.checkEntryFields(e, at, strict); err != nil {
			return err
		}
		z.Entries = append(z.Entries, e)
		pos += centralLen + int64(varLen)
	}
	if pos != dir.size {
		return malformed(dir.offset+pos, "%d bytes after the last central directory entry", dir.size-pos)
	}
	return nil
}

// name decodes an entry's name as zipfile does; the lenient listing keeps
// names it cannot decode strictly (the detector must still look inside).
func (z *Reader) name(e *Entry, at int64, strict bool) (string, *formats.Error) {
	name, err := decodeName(e.Raw, e.Flags&0x800 != 0, at)
	if err != nil && !strict {
		return decodeCP437(e.Raw), nil
	}
	return name, err
}

func pick(v32 uint32, v64 int64) int64 {
	if v32 == maxU32 {
		return v64
	}
	return int64(v32)
}

// checkEntryFields refuses flags and methods modelgate does not read
// (when strict), and sizes that cannot lie within the file.
func (z *Reader) checkEntryFields(e *Entry, at int64, strict bool) *formats.Error {
	e.UTF8 = e.Flags&0x800 != 0
	if e.CompressedSize < 0 || e.UncompressedSize < 0 || e.HeaderOffset < 0 || e.HeaderOffset > z.size || e.CompressedSize > z.size {
		return malformed(at, "entry %q has sizes or offset outside the file", e.Name)
	}
	if !strict {
		return nil
	}
	if e.Flags&1 != 0 {
		return formats.Errorf(formats.KindUnsupported, at, "entry %q is encrypted", e.Name)
	}
	if bad := e.Flags &^ allowedFlags; bad != 0 {
		return formats.Errorf(formats.KindUnsupported, at, "entry %q has flags %#04x (data descriptor, patched data, strong encryption or unknown)", e.Name, bad)
	}
	switch e.Method {
	case Store:
		if e.CompressedSize != e.UncompressedSize {
			return malformed(at, "stored entry %q has compressed size %d but size %d", e.Name, e.CompressedSize, e.UncompressedSize)
		}
	case Deflate:
	default:
		return formats.Errorf(formats.KindUnsupported, at, "entry %q uses compression method %d; only stored (0) and deflate (8) are read", e.Name, e.Method)
	}
	return nil
}

// checkLocal reads e's local header and refuses any field that disagrees
// with the central directory. It sets e.DataOffset.
func (z *Reader) checkLocal(e *Entry) *formats.Error {
	at := e.HeaderOffset
	if z.size-at < localLen {
		return malformed(at, "local header of %q runs past the end of the file", e.Name)
	}
	h, err := z.readAt(at, localLen)
	if err != nil {
		return err
	}
	b := le(h)
	if b.u32() != sigLocal {
		return malformed(at, "no local header for entry %q", e.Name)
	}
	b.skip(2)
	flags, method := b.u16(), b.u16()
	b.skip(4)
	crc, csize, usize := b.u32(), b.u32(), b.u32()
	nameLen, extraLen := int64(b.u16()), int64(b.u16())
	if z.size-at-localLen < nameLen+extraLen {
		return malformed(at, "local header of %q runs past the end of the file", e.Name)
	}
	v, err := z.readAt(at+localLen, int(nameLen+extraLen))
	if err != nil {
		return err
	}
	z64, err := zip64Extra(v[nameLen:], at, zip64Need{usize == maxU32, csize == maxU32, false, false})
	if err != nil {
		return err
	}
	switch {
	case string(v[:nameLen]) != e.Raw:
		return malformed(at, "local header names %q; central directory names %q", v[:nameLen], e.Raw)
	case flags != e.Flags:
		return malformed(at, "entry %q: local flags %#04x differ from central %#04x", e.Name, flags, e.Flags)
	case method != e.Method:
		return malformed(at, "entry %q: local method %d differs from central %d", e.Name, method, e.Method)
	}
	lcsize, lusize := pick(csize, z64.csize), pick(usize, z64.usize)
	// With a data descriptor the local fields may be zero: the values
	// follow the data. Anything else must equal the central directory.
	deferred := e.Flags&flagDescriptor != 0 && crc == 0 && lcsize == 0 && lusize == 0
	switch {
	case !deferred && crc != e.CRC32:
		return malformed(at, "entry %q: local CRC-32 %08x differs from central %08x", e.Name, crc, e.CRC32)
	case !deferred && (lcsize != e.CompressedSize || lusize != e.UncompressedSize):
		return malformed(at, "entry %q: local sizes differ from the central directory", e.Name)
	}
	e.DataOffset = at + localLen + nameLen + extraLen
	if e.CompressedSize > z.size-e.DataOffset {
		return malformed(at, "entry %q: %d bytes of data run past the end of the file", e.Name, e.CompressedSize)
	}
	if e.Flags&flagDescriptor != 0 {
		return z.checkDescriptor(e, hasExtra(v[nameLen:], 1))
	}
	return nil
}

// checkDescriptor reads the data descriptor after e's data: an optional
// signature, the CRC-32, and the sizes (8 bytes each when the local header
// has a ZIP64 field, else 4). It must agree with the central directory.
func (z *Reader) checkDescriptor(e *Entry, zip64 bool) *formats.Error {
	at := e.DataOffset + e.CompressedSize
	sizeLen := int64(4)
	if zip64 {
		sizeLen = 8
	}
	n := min(4+4+2*sizeLen, z.size-at)
	if n < 4+2*sizeLen {
		return malformed(at, "entry %q: data descriptor runs past the end of the file", e.Name)
	}
	b, err := z.readAt(at, int(n))
	if err != nil {
		return err
	}
	d := le(b)
	e.descriptor = 4 + 2*sizeLen
	if binary.LittleEndian.Uint32(b) == sigDescriptor && int64(len(b)) == 4+4+2*sizeLen {
		d.skip(4)
		e.descriptor += 4
	}
	crc := d.u32()
	var csize, usize int64
	if zip64 {
		csize, usize = int64(d.u64()), int64(d.u64())
	} else {
		csize, usize = int64(d.u32()), int64(d.u32())
	}
	if crc != e.CRC32 || csize != e.CompressedSize || usize != e.UncompressedSize {
		return malformed(at, "entry %q: data descriptor differs from the central directory", e.Name)
	}
	return nil
}

// hasExtra reports whether extra holds a field with the given ID (extra
// was checked to be well formed).
func hasExtra(extra []byte, id uint16) bool {
	for b := le(extra); len(b) >= 4; {
		fid, n := b.u16(), int(b.u16())
		if fid == id {
			return true
		}
		if n > len(b) {
			return false
		}
		b.skip(n)
	}
	return false
}

// zip64Need says which fields held the ZIP64 sentinel, and so must be
// present, in this order, in the ZIP64 extra field.
type zip64Need struct{ usize, csize, offset, disk bool }

type zip64Values struct {
	usize, csize, offset int64
	disk                 uint32
}

// zip64Extra checks that extra is a well-formed sequence of fields with no
// repeated ID, and reads the ZIP64 field's values that need says are there.
func zip64Extra(extra []byte, at int64, need zip64Need) (zip64Values, *formats.Error) {
	var out zip64Values
	seen := map[uint16]bool{}
	found := false
	for b := le(extra); len(b) > 0; {
		if len(b) < 4 {
			return out, malformed(at, "truncated extra field")
		}
		id, n := b.u16(), int(b.u16())
		if n > len(b) {
			return out, malformed(at, "extra field %#04x runs past its header", id)
		}
		if seen[id] {
			return out, malformed(at, "repeated extra field %#04x", id)
		}
		seen[id] = true
		if id == 1 {
			found = true
			var err *formats.Error
			if out, err = readZip64(b[:n], at, need); err != nil {
				return out, err
			}
		}
		b.skip(n)
	}
	if !found && (need.usize || need.csize || need.offset || need.disk) {
		return out, malformed(at, "a size or offset is 0xFFFFFFFF but there is no ZIP64 extra field")
	}
	return out, nil
}

func readZip64(f le, at int64, need zip64Need) (zip64Values, *formats.Error) {
	var out zip64Values
	u64 := func(want bool, dst *int64) bool {
		if !want {
			return true
		}
		if len(f) < 8 {
			return false
		}
		v := f.u64()
		if v > 1<<62 {
			return false
		}
		*dst = int64(v)
		return true
	}
	if !u64(need.usize, &out.usize) || !u64(need.csize, &out.csize) || !u64(need.offset, &out.offset) {
		return out, malformed(at, "ZIP64 extra field lacks a value it must hold")
	}
	if need.disk {
		if len(f) < 4 {
			return out, malformed(at, "ZIP64 extra field lacks a value it must hold")
		}
		out.disk = f.u32()
	}
	return out, nil
}
