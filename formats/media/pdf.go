package media

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"sync"
)

var pdfHeader = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^%PDF-[12]\.[0-9]`) })

func isPDF(b []byte) bool { return pdfHeader().Match(b) }

// pdfTail bounds how much of the end of a PDF is read for its trailer:
// startxref, the offset, %%EOF (ISO 32000-1 section 7.5.5).
const pdfTail = 1024

// pdfEnd is the end of a PDF: startxref, its offset, %%EOF, and at most
// one end of line.
var pdfEnd = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`startxref[ \t\r\n]+([0-9]{1,19})[ \t]*(?:\r\n|\r|\n)%%EOF(\r\n|\r|\n)?`)
})

// parsePDF checks a PDF's two ends: the header, then the last
// startxref, whose offset must start a cross-reference table or stream,
// and %%EOF. The structure ends after %%EOF's end of line.
func parsePDF(r io.ReaderAt, size int64) (int64, error) {
	tailOff := max(size-pdfTail, 0)
	tail := make([]byte, size-tailOff)
	if err := readFull(r, tail, tailOff); err != nil {
		return 0, err
	}
	all := pdfEnd().FindAllSubmatchIndex(tail, -1)
	if all == nil {
		return 0, errNot
	}
	m := all[len(all)-1]
	xref, err := strconv.ParseInt(string(tail[m[2]:m[3]]), 10, 64)
	if err != nil || xref <= 0 || xref >= size-5 {
		return 0, errNot
	}
	at := make([]byte, min(32, size-xref))
	if err := readFull(r, at, xref); err != nil {
		return 0, err
	}
	if !bytes.HasPrefix(at, []byte("xref")) && !xrefStream().Match(at) {
		return 0, errNot
	}
	return tailOff + int64(m[1]), nil
}

// xrefStream is the start of an indirect object ("12 0 obj"), which a
// cross-reference stream is.
var xrefStream = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{1,10}[ \t\r\n]+[0-9]{1,5}[ \t\r\n]+obj`) })

func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	s := &stream{pos: off}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return s.eof(err)
}
