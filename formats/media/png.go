package media

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

func isPNG(b []byte) bool { return bytes.HasPrefix(b, pngSignature) }

// parsePNG walks the chunks (PNG spec section 5.3): length (at most
// 2^31-1), type (four ASCII letters), data, CRC over type and data.
func parsePNG(r io.ReaderAt, size int64) (int64, error) {
	s := newStream(r, size)
	if err := s.skip(int64(len(pngSignature))); err != nil {
		return 0, err
	}
	var hdr [8]byte
	for first := true; ; first = false {
		if err := s.full(hdr[:]); err != nil {
			return 0, err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		typ := string(hdr[4:])
		if n > 1<<31-1 || int64(n)+4 > size-s.pos || !letters(hdr[4:]) || first != (typ == "IHDR") || first && n != 13 {
			return 0, errNot
		}
		crc := crc32.NewIEEE()
		crc.Write(hdr[4:])
		if _, err := io.CopyN(crc, s.br, int64(n)); err != nil {
			return 0, s.eof(err)
		}
		s.pos += int64(n)
		var sum [4]byte
		if err := s.full(sum[:]); err != nil {
			return 0, err
		}
		if binary.BigEndian.Uint32(sum[:]) != crc.Sum32() {
			return 0, errNot
		}
		if typ == "IEND" {
			if n != 0 {
				return 0, errNot
			}
			return s.pos, nil
		}
	}
}

func letters(b []byte) bool {
	for _, c := range b {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}
