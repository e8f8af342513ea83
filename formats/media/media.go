// Package media identifies the images and documents that ship beside
// models (a model card's figures, a paper): PNG, JPEG, GIF, WebP and PDF,
// by walking their structure to its end with every length checked against
// the file. formats/content calls a file Identify names inert.
//
// Identify names a file only when its structure is whole:
//
//   - PNG: the signature, IHDR first, every chunk's length within the file
//     and its CRC right, up to IEND;
//   - JPEG: SOI, marker segments with their lengths, a frame header (SOFn)
//     and at least one scan, whose entropy-coded data runs to the next
//     marker, up to EOI;
//   - GIF: GIF87a or GIF89a, the screen descriptor and colour tables,
//     extension and image blocks with their sub-blocks, at least one
//     image, up to the trailer (0x3B);
//   - WebP: RIFF, WEBP, chunks (VP8, VP8L or VP8X first) that tile the
//     RIFF size exactly;
//   - PDF: %PDF-x.y at byte 0, and at the end %%EOF after a startxref
//     whose offset lies in the file and starts a cross-reference table
//     ("xref") or stream (an object, "N G obj"). PDF objects between are
//     not parsed: no model loader reads them; PDF's own active content
//     (JavaScript, launch actions) is for PDF viewers, which modelgate does
//     not guard.
//
// Content that does not have such a structure is not named (it stays
// unknown content). Content that does but goes on after it (bytes after
// IEND, EOI, the GIF trailer, the RIFF size or %%EOF and its end of line)
// is refused with kind malformed: the bytes behind an image are where a
// polyglot keeps its second reading (a zip behind a PNG is an archive to
// zipfile). The other second readings (a zip directory inside the file,
// an HDF5 superblock, a pickle from byte 0) are formats/content's to
// refuse, for every file it does not otherwise know.
package media

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/modelgate/modelgate/formats"
)

// errNot says content is not the format its magic bytes suggest.
var errNot = errors.New("structure does not parse")

// Identify names the image or document r (size bytes) holds, or returns
// formats.FormatUnknown. The error is a refusal (kind malformed: bytes
// after the structure's end) or an I/O error.
func Identify(r io.ReaderAt, size int64) (formats.Format, error) {
	head := make([]byte, min(size, 16))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return formats.FormatUnknown, formats.IOError(0, err)
	}
	for _, p := range parsers {
		if !p.magic(head) {
			continue
		}
		end, err := p.parse(r, size)
		switch {
		case errors.Is(err, errNot):
			return formats.FormatUnknown, nil
		case err != nil:
			return formats.FormatUnknown, err
		case end != size:
			return p.format, formats.Errorf(formats.KindMalformed, end, "content is a %s whose structure ends at byte %d, and %d more bytes follow: a second reading of the file could start there", p.format, end, size-end)
		}
		return p.format, nil
	}
	return formats.FormatUnknown, nil
}

type parser struct {
	format formats.Format
	magic  func([]byte) bool
	// parse returns where the structure ends, errNot if it is not whole,
	// or an I/O error.
	parse func(io.ReaderAt, int64) (int64, error)
}

var parsers = []parser{
	{formats.FormatPNG, isPNG, parsePNG},
	{formats.FormatJPEG, isJPEG, parseJPEG},
	{formats.FormatGIF, isGIF, parseGIF},
	{formats.FormatWebP, isWebP, parseWebP},
	{formats.FormatPDF, isPDF, parsePDF},
}

// stream reads a structure front to back and counts where it is.
type stream struct {
	br   *bufio.Reader
	pos  int64
	size int64
}

func newStream(r io.ReaderAt, size int64) *stream {
	return &stream{br: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10), size: size}
}

// full reads len(b) bytes, or fails with errNot at the end of the file.
func (s *stream) full(b []byte) error {
	n, err := io.ReadFull(s.br, b)
	s.pos += int64(n)
	return s.eof(err)
}

func (s *stream) byte() (byte, error) {
	c, err := s.br.ReadByte()
	if err == nil {
		s.pos++
	}
	return c, s.eof(err)
}

// skip discards n bytes (bounds checked against the file first).
func (s *stream) skip(n int64) error {
	if n < 0 || n > s.size-s.pos {
		return errNot
	}
	k, err := s.br.Discard(int(n))
	s.pos += int64(k)
	return s.eof(err)
}

// eof maps the end of the file to errNot and keeps other I/O errors.
func (s *stream) eof(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errNot
	}
	return formats.IOError(s.pos, fmt.Errorf("reading the file: %w", err))
}
