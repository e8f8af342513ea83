package media_test

import (
	"bytes"
	"image"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/media"
)

// written are images by Go's encoders and the fixtures PIL wrote
// (testdata/gen_content.py), with the format each holds.
func written(t testing.TB) map[string]formats.Format {
	img := image.NewRGBA(image.Rect(0, 0, 7, 5))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 37)
	}
	var p, j, g bytes.Buffer
	require.NoError(t, png.Encode(&p, img))
	require.NoError(t, jpeg.Encode(&j, img, nil))
	pal := image.NewPaletted(img.Rect, palette.Plan9)
	require.NoError(t, gif.EncodeAll(&g, &gif.GIF{Image: []*image.Paletted{pal, pal}, Delay: []int{0, 0}}))
	out := map[string]formats.Format{p.String(): formats.FormatPNG, j.String(): formats.FormatJPEG, g.String(): formats.FormatGIF}
	for name, f := range map[string]formats.Format{
		"figure.png": formats.FormatPNG, "photo.jpg": formats.FormatJPEG, "progressive.jpg": formats.FormatJPEG,
		"anim.gif": formats.FormatGIF, "lossy.webp": formats.FormatWebP, "lossless.webp": formats.FormatWebP,
		"paper.pdf": formats.FormatPDF,
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "content", "media", name))
		require.NoError(t, err)
		out[string(b)] = f
	}
	return out
}

func identify(b []byte) (formats.Format, error) {
	return media.Identify(bytes.NewReader(b), int64(len(b)))
}

// TestWrittenImagesAreIdentified: every image a real writer made is
// named; cut short anywhere it is not; with a byte after its end it is
// refused as malformed.
func TestWrittenImagesAreIdentified(t *testing.T) {
	for b, want := range written(t) {
		got, err := identify([]byte(b))
		require.NoError(t, err)
		assert.Equal(t, want, got)
		for _, n := range []int{len(b) - 1, len(b) / 2, 20} {
			got, err := identify([]byte(b[:n]))
			assert.NoError(t, err, "%s cut to %d", want, n)
			assert.Equal(t, formats.FormatUnknown, got, "%s cut to %d", want, n)
		}
		got, err = identify([]byte(b + "\x00"))
		assert.Equal(t, formats.KindMalformed, formats.KindOf(err), "%s with a byte after its end", want)
		assert.Equal(t, want, got)
	}
}

// TestBrokenStructuresAreNotImages: a right magic with a broken structure
// stays unknown content.
func TestBrokenStructuresAreNotImages(t *testing.T) {
	var p bytes.Buffer
	require.NoError(t, png.Encode(&p, image.NewGray(image.Rect(0, 0, 2, 2))))
	badCRC := bytes.Clone(p.Bytes())
	badCRC[30] ^= 1 // inside IHDR's CRC
	for name, b := range map[string][]byte{
		"png with a bad CRC":        badCRC,
		"png signature alone":       []byte("\x89PNG\r\n\x1a\n"),
		"jpeg with no frame":        []byte("\xff\xd8\xff\xd9"),
		"gif with no image":         []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00\x3b"),
		"webp with a short RIFF":    []byte("RIFF\x04\x00\x00\x00WEBP"),
		"webp with an unknown head": []byte("RIFF\x0e\x00\x00\x00WEBPABCD\x02\x00\x00\x00xx"),
		"pdf with no startxref":     []byte("%PDF-1.4\n%%EOF\n"),
		"pdf whose xref is nowhere": []byte("%PDF-1.4\nstartxref\n3\n%%EOF\n"),
	} {
		got, err := identify(b)
		assert.NoError(t, err, name)
		assert.Equal(t, formats.FormatUnknown, got, name)
	}
}

// FuzzIdentify checks, for any input: no panic; a refusal is malformed
// and names the format whose structure ended early; a PNG or GIF it
// names is one Go's decoder reads the configuration of. (Go's JPEG
// decoder is no oracle: it refuses features real files use, such as
// arithmetic coding and lossless frames.)
func FuzzIdentify(f *testing.F) {
	for b := range written(f) {
		f.Add([]byte(b))
		f.Add([]byte(b + "PK\x05\x06"))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := identify(b)
		if err != nil {
			require.Equal(t, formats.KindMalformed, formats.KindOf(err), "%v", err)
			require.NotEqual(t, formats.FormatUnknown, got)
			return
		}
		var derr error
		switch got {
		case formats.FormatPNG:
			_, derr = png.DecodeConfig(bytes.NewReader(b))
		case formats.FormatGIF:
			_, derr = gif.DecodeConfig(bytes.NewReader(b))
		}
		require.NoError(t, derr, "%s", got)
	})
}
