package media

import (
	"bytes"
	"encoding/binary"
	"io"
)

func isJPEG(b []byte) bool { return bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}) }

// JPEG markers (ITU T.81 table B.1).
const (
	markerSOI = 0xd8
	markerEOI = 0xd9
	markerSOS = 0xda
	markerTEM = 0x01
)

// parseJPEG walks the marker segments (T.81 B.1.1): 0xFF, fill bytes
// 0xFF, a marker, then a two-byte length covering itself and the
// segment, except for SOI, EOI, TEM and RSTn, which stand alone. After
// SOS the entropy-coded data runs to the next marker that is not a
// stuffed 0xFF00 or an RSTn.
func parseJPEG(r io.ReaderAt, size int64) (int64, error) {
	s := newStream(r, size)
	if err := s.skip(2); err != nil {
		return 0, err
	}
	frame, scans := false, 0
	for {
		c, err := s.byte()
		if err != nil {
			return 0, err
		}
		if c != 0xff {
			return 0, errNot
		}
		m, err := marker(s)
		if err != nil {
			return 0, err
		}
		for {
			switch {
			case m == markerEOI:
				if !frame || scans == 0 {
					return 0, errNot
				}
				return s.pos, nil
			case m == markerSOI || m < 0xc0 && m != markerTEM: // 02-BF are reserved
				return 0, errNot
			case m == markerTEM || m >= 0xd0 && m <= 0xd7:
			default:
				var l [2]byte
				if err := s.full(l[:]); err != nil {
					return 0, err
				}
				n := int64(binary.BigEndian.Uint16(l[:]))
				if n < 2 {
					return 0, errNot
				}
				if err := s.skip(n - 2); err != nil {
					return 0, err
				}
				frame = frame || isSOF(m)
			}
			if m != markerSOS {
				break
			}
			scans++
			if m, err = entropyData(s); err != nil {
				return 0, err
			}
		}
	}
}

// marker reads a marker after its 0xFF, skipping fill bytes.
func marker(s *stream) (byte, error) {
	for {
		m, err := s.byte()
		if err != nil || m != 0xff {
			return m, err
		}
	}
}

// entropyData skips a scan's entropy-coded data and returns the marker
// that ends it.
func entropyData(s *stream) (byte, error) {
	for {
		c, err := s.byte()
		if err != nil {
			return 0, err
		}
		if c != 0xff {
			continue
		}
		m, err := marker(s)
		if err != nil {
			return 0, err
		}
		if m != 0x00 && (m < 0xd0 || m > 0xd7) {
			return m, nil
		}
	}
}

// isSOF reports a start-of-frame marker: C0-CF except DHT (C4), JPG
// (C8) and DAC (CC).
func isSOF(m byte) bool {
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc
}
