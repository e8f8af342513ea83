// Package ziptest builds zip archives byte by byte for tests, including
// archives whose local headers and central directory disagree.
package ziptest

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
)

// Entry is one member to write. Zero overrides mean "same as central".
type Entry struct {
	Name    string
	Data    []byte // uncompressed content
	Deflate bool
	Flags   uint16
	Mode    uint32 // Unix mode; sets "made by Unix" when non-zero

	CRCDelta     uint32 // added to the CRC-32 in both headers (a bad CRC)
	USizeDelta   int64  // added to the uncompressed size in both headers
	CSizeDelta   int64  // added to the compressed size in both headers
	LocalName    string // local header name, if it should differ
	LocalFlags   uint16 // local header flags, if they should differ
	LocalCRC     uint32 // local header CRC-32, if it should differ
	LocalMethod  uint16 // local header method, if it should differ
	Method       uint16 // method to declare, overriding Deflate's (data stays as written)
	HeaderOffset int64  // if non-zero, the central directory points here instead

	Descriptor    bool   // write a data descriptor (sets flag 8; local CRC and sizes zero)
	DescriptorCRC uint32 // added to the descriptor's CRC-32 (a lying descriptor)
}

// Archive describes the whole file.
type Archive struct {
	Entries  []Entry
	Prefix   []byte // bytes before the first entry
	Gap      []byte // bytes after each entry's data
	Trailer  []byte // bytes after the end record (the comment length does not count them)
	Comment  []byte
	Disk     uint16 // the end record's disk number
	ExtraCD  []byte // bytes after the central directory entries, inside it
	Zip64End bool   // write ZIP64 end records and sentinels in the end record
	// Zip64Extensible is written as the ZIP64 end record's extensible
	// data (its size field counts it).
	Zip64Extensible []byte
}

// Build returns the archive's bytes.
func (a Archive) Build() []byte {
	var out bytes.Buffer
	out.Write(a.Prefix)
	var cd bytes.Buffer
	for _, e := range a.Entries {
		data := e.Data
		method := uint16(0)
		if e.Deflate {
			var c bytes.Buffer
			w, _ := flate.NewWriter(&c, flate.BestCompression)
			w.Write(e.Data)
			w.Close()
			data, method = c.Bytes(), 8
		}
		if e.Method != 0 {
			method = e.Method
		}
		crc := crc32.ChecksumIEEE(e.Data) + e.CRCDelta
		usize := uint32(int64(len(e.Data)) + e.USizeDelta)
		csize := uint32(int64(len(data)) + e.CSizeDelta)
		off := uint32(out.Len())
		if e.HeaderOffset != 0 {
			off = uint32(e.HeaderOffset)
		}
		flags := e.Flags
		if e.Descriptor {
			flags |= 0x8
		}
		lname, lflags, lcrc, lmethod := e.Name, flags, crc, method
		lcsize, lusize := csize, usize
		if e.Descriptor {
			lcrc, lcsize, lusize = 0, 0, 0
		}
		if e.LocalName != "" {
			lname = e.LocalName
		}
		if e.LocalFlags != 0 {
			lflags = e.LocalFlags
		}
		if e.LocalCRC != 0 {
			lcrc = e.LocalCRC
		}
		if e.LocalMethod != 0 {
			lmethod = e.LocalMethod
		}
		le := binary.LittleEndian
		var h []byte
		h = le.AppendUint32(h, 0x04034b50)
		h = le.AppendUint16(h, 20)
		h = le.AppendUint16(h, lflags)
		h = le.AppendUint16(h, lmethod)
		h = le.AppendUint32(h, 0)
		h = le.AppendUint32(h, lcrc)
		h = le.AppendUint32(h, lcsize)
		h = le.AppendUint32(h, lusize)
		h = le.AppendUint16(h, uint16(len(lname)))
		h = le.AppendUint16(h, 0)
		h = append(h, lname...)
		out.Write(h)
		out.Write(data)
		if e.Descriptor {
			var d []byte
			d = le.AppendUint32(d, 0x08074b50)
			d = le.AppendUint32(d, crc+e.DescriptorCRC)
			d = le.AppendUint32(d, csize)
			d = le.AppendUint32(d, usize)
			out.Write(d)
		}
		out.Write(a.Gap)

		madeBy := uint16(20)
		if e.Mode != 0 {
			madeBy |= 3 << 8
		}
		var c []byte
		c = le.AppendUint32(c, 0x02014b50)
		c = le.AppendUint16(c, madeBy)
		c = le.AppendUint16(c, 20)
		c = le.AppendUint16(c, flags)
		c = le.AppendUint16(c, method)
		c = le.AppendUint32(c, 0)
		c = le.AppendUint32(c, crc)
		c = le.AppendUint32(c, csize)
		c = le.AppendUint32(c, usize)
		c = le.AppendUint16(c, uint16(len(e.Name)))
		c = le.AppendUint16(c, 0)
		c = le.AppendUint16(c, 0)
		c = le.AppendUint16(c, 0)
		c = le.AppendUint16(c, 0)
		c = le.AppendUint32(c, e.Mode<<16)
		c = le.AppendUint32(c, off)
		c = append(c, e.Name...)
		cd.Write(c)
	}
	cd.Write(a.ExtraCD)
	cdOff := out.Len()
	out.Write(cd.Bytes())
	le := binary.LittleEndian
	n16, size32, off32 := uint16(len(a.Entries)), uint32(cd.Len()), uint32(cdOff)
	if a.Zip64End {
		rec := out.Len()
		var z []byte
		z = le.AppendUint32(z, 0x06064b50)
		z = le.AppendUint64(z, 44+uint64(len(a.Zip64Extensible)))
		z = le.AppendUint16(z, 45)
		z = le.AppendUint16(z, 45)
		z = le.AppendUint32(z, 0)
		z = le.AppendUint32(z, 0)
		z = le.AppendUint64(z, uint64(len(a.Entries)))
		z = le.AppendUint64(z, uint64(len(a.Entries)))
		z = le.AppendUint64(z, uint64(cd.Len()))
		z = le.AppendUint64(z, uint64(cdOff))
		z = append(z, a.Zip64Extensible...)
		z = le.AppendUint32(z, 0x07064b50)
		z = le.AppendUint32(z, 0)
		z = le.AppendUint64(z, uint64(rec))
		z = le.AppendUint32(z, 1)
		out.Write(z)
		n16, size32, off32 = 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF
	}
	var end []byte
	end = le.AppendUint32(end, 0x06054b50)
	end = le.AppendUint16(end, a.Disk)
	end = le.AppendUint16(end, a.Disk)
	end = le.AppendUint16(end, n16)
	end = le.AppendUint16(end, n16)
	end = le.AppendUint32(end, size32)
	end = le.AppendUint32(end, off32)
	end = le.AppendUint16(end, uint16(len(a.Comment)))
	out.Write(end)
	out.Write(a.Comment)
	out.Write(a.Trailer)
	return out.Bytes()
}
