package media

import (
	"bytes"
	"encoding/binary"
	"io"
)

func isWebP(b []byte) bool {
	return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
}

// parseWebP walks the RIFF chunks (RFC 9649 section 2): a FourCC, a
// little-endian size, the payload and a pad byte when the size is odd.
// They must tile the RIFF size exactly; the structure ends where the RIFF
// size says. The first chunk is VP8, VP8L or VP8X, and a VP8 or VP8L
// bitstream starts with its signature.
func parseWebP(r io.ReaderAt, size int64) (int64, error) {
	s := newStream(r, size)
	var hdr [12]byte
	if err := s.full(hdr[:]); err != nil {
		return 0, err
	}
	riff := int64(binary.LittleEndian.Uint32(hdr[4:8]))
	end := 8 + riff
	if end > size || riff%2 != 0 || riff < 4+8 {
		return 0, errNot
	}
	for first := true; s.pos < end; first = false {
		var ch [8]byte
		if end-s.pos < 8 {
			return 0, errNot
		}
		if err := s.full(ch[:]); err != nil {
			return 0, err
		}
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		padded := n + n%2
		if padded > end-s.pos || !fourCC(ch[:4]) {
			return 0, errNot
		}
		if first {
			if err := firstChunk(s, string(ch[:4]), n); err != nil {
				return 0, err
			}
			padded -= min(n, 10)
		}
		if err := s.skip(padded); err != nil {
			return 0, err
		}
	}
	return end, nil
}

// firstChunk checks the first chunk's kind and reads up to 10 bytes of
// its payload: a VP8 key frame's start code (9D 01 2A after the frame
// tag), VP8L's signature byte (0x2F).
func firstChunk(s *stream, kind string, n int64) error {
	b := make([]byte, min(n, 10))
	if err := s.full(b); err != nil {
		return err
	}
	switch {
	case kind == "VP8 " && len(b) == 10 && bytes.Equal(b[3:6], []byte{0x9d, 0x01, 0x2a}):
	case kind == "VP8L" && len(b) >= 5 && b[0] == 0x2f:
	case kind == "VP8X" && n == 10:
	default:
		return errNot
	}
	return nil
}

// fourCC reports a chunk identifier of printable ASCII.
func fourCC(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
