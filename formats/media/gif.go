package media

import (
	"bytes"
	"io"
)

func isGIF(b []byte) bool {
	return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
}

// GIF block introducers (GIF89a spec, appendix B).
const (
	gifExtension = 0x21
	gifImage     = 0x2c
	gifTrailer   = 0x3b
)

// parseGIF walks the blocks: header, logical screen descriptor and global
// colour table, then extensions and images (each with its sub-blocks) up
// to the trailer.
func parseGIF(r io.ReaderAt, size int64) (int64, error) {
	s := newStream(r, size)
	var lsd [13]byte // header and logical screen descriptor
	if err := s.full(lsd[:]); err != nil {
		return 0, err
	}
	if err := colourTable(s, lsd[10]); err != nil {
		return 0, err
	}
	images := 0
	for {
		c, err := s.byte()
		if err != nil {
			return 0, err
		}
		switch c {
		case gifTrailer:
			if images == 0 {
				return 0, errNot
			}
			return s.pos, nil
		case gifExtension:
			if err := s.skip(1); err != nil { // the label
				return 0, err
			}
		case gifImage:
			var d [9]byte // position, size, flags
			if err := s.full(d[:]); err != nil {
				return 0, err
			}
			if err := colourTable(s, d[8]); err != nil {
				return 0, err
			}
			codeSize, err := s.byte()
			if err != nil {
				return 0, err
			}
			if codeSize < 2 || codeSize > 11 {
				return 0, errNot
			}
			images++
		default:
			return 0, errNot
		}
		if err := subBlocks(s); err != nil {
			return 0, err
		}
	}
}

// colourTable skips the colour table a descriptor's flags announce.
func colourTable(s *stream, flags byte) error {
	if flags&0x80 == 0 {
		return nil
	}
	return s.skip(3 << (flags&7 + 1))
}

// subBlocks skips data sub-blocks up to the empty one that ends them.
func subBlocks(s *stream) error {
	for {
		n, err := s.byte()
		if err != nil || n == 0 {
			return err
		}
		if err := s.skip(int64(n)); err != nil {
			return err
		}
	}
}
