package loader_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// TestScanReadsOnlyWhatClassificationNeeds: checking a 1 GiB safetensors
// file reads its sniff window and header, not its data; a text file is
// read no further than the ignore rule's 8 KiB, and the last 64 KiB where
// zip readers look for an archive behind it (formats/content
// secondReading), with a few hundred bytes for the ONNX and HDF5 probes.
func TestScanReadsOnlyWhatClassificationNeeds(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.safetensors")
	hdr := fmt.Sprintf(`{"w":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]}}`, 1<<30, 1<<30)
	writeFile(t, p, append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...))
	require.NoError(t, os.Truncate(p, int64(8+len(hdr))+1<<30))
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	c := &countingReader{r: f}
	res := loader.CheckFile(c, int64(8+len(hdr))+1<<30, p, formats.Limits{})
	assert.Equal(t, loader.Accepted, res.Verdict)
	assert.Less(t, c.n.Load(), int64(4<<10), "read %d bytes of a 1 GiB file", c.n.Load())

	text := make([]byte, 1<<20)
	for i := range text {
		text[i] = 'a' + byte(i%26)
	}
	c = &countingReader{r: bytes.NewReader(text)}
	res = loader.CheckFile(c, int64(len(text)), "notes.txt", formats.Limits{})
	assert.Equal(t, loader.Ignored, res.Verdict)
	const zipTail, probes = 22 + 0xffff, 2 << 10 // probes: ONNX and SentencePiece 512 bytes each, HDF5 8 bytes per power of two, image magic 16
	assert.LessOrEqual(t, c.n.Load(), int64(8<<10+formats.SniffLen+zipTail+probes), "read %d bytes of a 1 MiB text file", c.n.Load())
}
