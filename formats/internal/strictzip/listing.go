package strictzip

import (
	"encoding/binary"
	"io"

	"github.com/modelgate/modelgate/formats"
)

// List names the entries of an archive as every reader modelgate must
// agree with could find them, for classifying it (deciding whether it
// carries a pickle), never for reading it: the entries' DataOffset is
// unset and Open must not be used. NewReader refuses any archive these
// readings disagree on; List looks inside all of them, so that an archive
// hidden from one reader is still looked at.
//
// The readings: the end record that exactly ends the file (modelgate);
// the last end-record signature in the final 64 KiB (Python's zipfile,
// torch's miniz, archive/zip), whatever its comment length says; the ZIP64
// end record both at the fixed position before its locator (zipfile) and
// where the locator points (miniz, archive/zip); and directory offsets
// both as stored (miniz) and shifted by the bytes before the directory
// (zipfile's and archive/zip's "concat" for prepended data). Names are
// decoded as zipfile decodes them, without refusing any.
func List(r io.ReaderAt, size int64, lim formats.Limits) ([]*Entry, error) {
	z := &Reader{r: r, size: size, lim: lim.WithDefaults()}
	dirs, err := z.readings()
	if err != nil {
		return nil, err
	}
	type key struct {
		off int64
		raw string
	}
	seen := map[key]bool{}
	var out []*Entry
	var first *formats.Error
	for _, d := range dirs {
		entries, err := z.listDirectory(d)
		if err != nil && first == nil {
			first = err
		}
		for _, e := range entries {
			if k := (key{e.HeaderOffset, e.Raw}); !seen[k] && int64(len(out)) < z.lim.MaxTensors {
				seen[k] = true
				out = append(out, e)
			}
		}
	}
	if len(out) == 0 && first != nil {
		return nil, first
	}
	return out, nil
}

// maxReadings bounds the end records List follows.
const maxReadings = 16

// reading is one reader's idea of the central directory: where it is,
// and how much every entry's header offset is shifted.
type reading struct {
	dir    directory
	concat int64
}

// readings returns every distinct central directory a reader could use.
func (z *Reader) readings() ([]reading, *formats.Error) {
	tailLen := min(z.size, endLen+maxComment)
	if tailLen < endLen {
		return nil, malformed(0, "file is %d bytes, too short for a zip archive", z.size)
	}
	tailOff := z.size - tailLen
	tail, err := z.readAt(tailOff, int(tailLen))
	if err != nil {
		return nil, err
	}
	// Every end-record signature near the end is a candidate: the last one
	// (zipfile's rfind, miniz, archive/zip) and the one whose comment ends
	// the file (modelgate) may differ, and an archive can hide more.
	var ends []int64
	for i := len(tail) - endLen; i >= 0 && len(ends) < maxReadings; i-- {
		if binary.LittleEndian.Uint32(tail[i:]) == sigEnd {
			ends = append(ends, tailOff+int64(i))
		}
	}
	if len(ends) == 0 {
		return nil, malformed(z.size, "no end-of-central-directory record")
	}
	var out []reading
	add := func(d directory, recordEnd int64) {
		for _, concat := range []int64{0, recordEnd - d.size - d.offset} {
			r := reading{d, concat}
			if concat < 0 || d.offset+concat < 0 || d.offset+concat > z.size || containsReading(out, r) {
				continue
			}
			out = append(out, r)
		}
	}
	for _, at := range ends {
		b := le(tail[at-tailOff:])
		b.skip(10)
		total, size, offset := b.u16(), b.u32(), b.u32()
		add(directory{entries: uint64(total), offset: int64(offset), size: int64(size), end: at}, at)
		if !z.hasLocator(at) {
			continue
		}
		loc, err := z.readAt(at-locator64Len, locator64Len)
		if err != nil {
			continue
		}
		pointed := int64(binary.LittleEndian.Uint64(loc[8:]))
		for _, rec := range []int64{at - locator64Len - end64Len, pointed} {
			if d, ok := z.end64At(rec); ok {
				add(d, rec)
			}
		}
	}
	return out, nil
}

func containsReading(rs []reading, r reading) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// end64At reads a ZIP64 end record at off, without any check of where it
// lies.
func (z *Reader) end64At(off int64) (directory, bool) {
	if off < 0 || off > z.size-end64Len {
		return directory{}, false
	}
	b, err := z.readAt(off, end64Len)
	if err != nil || binary.LittleEndian.Uint32(b) != sigEnd64 {
		return directory{}, false
	}
	rec := le(b[24:])
	rec.skip(8) // entries on this disk
	total, size, offset := rec.u64(), rec.u64(), rec.u64()
	if size > uint64(z.size) || offset > uint64(z.size) {
		return directory{}, false
	}
	return directory{entries: total, offset: int64(offset), size: int64(size), end: off}, true
}

// listDirectory parses one reading's central directory without the
// strict checks, shifting header offsets by its concat.
func (z *Reader) listDirectory(r reading) ([]*Entry, *formats.Error) {
	d := r.dir
	d.offset += r.concat
	d.size = min(d.size, z.size-d.offset)
	lz := &Reader{r: z.r, size: z.size, lim: z.lim}
	perr := lz.parseCentral(d, false)
	for _, e := range lz.Entries {
		e.HeaderOffset += r.concat
	}
	return lz.Entries, perr
}
