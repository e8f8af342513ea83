package strictzip

import (
	"encoding/binary"
	"errors"
	"github.com/klauspost/compress/flate"
	"hash/crc32"
	"io"

	"github.com/modelgate/modelgate/formats"
)

// Section returns the entry's data as stored (compressed, for deflate).
func (z *Reader) Section(e *Entry) *io.SectionReader {
	return io.NewSectionReader(z.r, e.DataOffset, e.CompressedSize)
}

// checkInflate refuses a deflated entry whose declared size is over
// MaxDecompressedBytes or whose ratio is over MaxCompressionRatio, before
// anything is inflated.
func (z *Reader) checkInflate(e *Entry) *formats.Error {
	if e.UncompressedSize > z.lim.MaxDecompressedBytes {
		return formats.Errorf(formats.KindLimitExceeded, e.HeaderOffset,
			"entry %q inflates to %d bytes; limit is MaxDecompressedBytes=%d", e.Name, e.UncompressedSize, z.lim.MaxDecompressedBytes)
	}
	if ratio := e.UncompressedSize / max(e.CompressedSize, 1); ratio > z.lim.MaxCompressionRatio {
		return formats.Errorf(formats.KindLimitExceeded, e.HeaderOffset,
			"entry %q has compression ratio %d; limit is MaxCompressionRatio=%d", e.Name, ratio, z.lim.MaxCompressionRatio)
	}
	return nil
}

// Open returns a reader of the entry's uncompressed bytes. It returns an
// error of kind formats.KindMalformed at the end if the data is longer or
// shorter than declared or its CRC-32 differs; a deflated entry is checked
// against the inflate limits before any byte is read.
func (z *Reader) Open(e *Entry) (io.Reader, error) {
	var src io.Reader = z.Section(e)
	if e.Method == Deflate {
		if err := z.checkInflate(e); err != nil {
			return nil, err
		}
		src = flate.NewReader(src)
	}
	return &checked{e: e, r: src, left: e.UncompressedSize, crc: crc32.NewIEEE()}, nil
}

// ReadAll returns the entry's uncompressed bytes, checked as Open checks
// them.
func (z *Reader) ReadAll(e *Entry) ([]byte, error) {
	r, err := z.Open(e)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, e.UncompressedSize)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if _, err := r.Read(nil); err != io.EOF {
		return nil, err
	}
	return buf, nil
}

// Verify reads the entry to its end and checks its size and CRC-32.
func (z *Reader) Verify(e *Entry) error {
	r, err := z.Open(e)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, r)
	return err
}

// checked passes through exactly left bytes, then checks that the source
// ends there and that the CRC-32 matches.
type checked struct {
	e    *Entry
	r    io.Reader
	left int64
	crc  interface {
		io.Writer
		Sum32() uint32
	}
	done bool
}

func (c *checked) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, c.finish()
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	c.left -= int64(n)
	switch {
	case err == io.EOF && c.left > 0, errors.Is(err, io.ErrUnexpectedEOF):
		return n, malformed(c.e.DataOffset, "entry %q ends %d bytes before its declared size", c.e.Name, c.left)
	case err != nil && err != io.EOF:
		var ce flate.CorruptInputError
		if errors.As(err, &ce) {
			return n, formats.Errorf(formats.KindMalformed, c.e.DataOffset+int64(ce), "entry %q: corrupt deflate data: %w", c.e.Name, err)
		}
		return n, formats.IOError(c.e.DataOffset, err)
	}
	return n, nil
}

// finish checks, once, that nothing follows the declared size and that the
// CRC-32 matches.
func (c *checked) finish() error {
	if c.done {
		return io.EOF
	}
	c.done = true
	var one [1]byte
	if n, _ := io.ReadFull(c.r, one[:]); n > 0 {
		return malformed(c.e.DataOffset, "entry %q holds more than its declared %d bytes", c.e.Name, c.e.UncompressedSize)
	}
	if sum := c.crc.Sum32(); sum != c.e.CRC32 {
		return malformed(c.e.DataOffset, "entry %q: CRC-32 is %08x; the headers say %08x", c.e.Name, sum, c.e.CRC32)
	}
	return io.EOF
}

// Peek returns up to n leading bytes of a listed entry's uncompressed
// content, for classification: stored and deflated entries only, no CRC
// check, reading at most what n needs. It returns nil when the entry's data
// cannot be located or decoded.
func Peek(r io.ReaderAt, size int64, e *Entry, n int) []byte {
	var h [localLen]byte
	if e.HeaderOffset > size-localLen {
		return nil
	}
	if _, err := r.ReadAt(h[:], e.HeaderOffset); err != nil || binary.LittleEndian.Uint32(h[:]) != sigLocal {
		return nil
	}
	off := e.HeaderOffset + localLen + int64(binary.LittleEndian.Uint16(h[26:])) + int64(binary.LittleEndian.Uint16(h[28:]))
	if off > size {
		return nil
	}
	var src io.Reader = io.NewSectionReader(r, off, min(e.CompressedSize, size-off))
	switch e.Method {
	case Store:
	case Deflate:
		src = flate.NewReader(src)
	default:
		return nil
	}
	buf := make([]byte, n)
	k, _ := io.ReadFull(src, buf)
	return buf[:k]
}
