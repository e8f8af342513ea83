package strictzip_test

import (
	"encoding/binary"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/internal/strictzip"
	"github.com/modelgate/modelgate/formats/internal/ziptest"
)

// sparse is a file of head, then zeros, then tail, size bytes in all,
// read without being held.
type sparse struct {
	head, tail []byte
	size       int64
}

func (s sparse) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := 0
	for ; n < len(p) && off < s.size; n, off = n+1, off+1 {
		switch t := s.size - int64(len(s.tail)); {
		case off < int64(len(s.head)):
			p[n] = s.head[off]
		case off >= t:
			p[n] = s.tail[off-t]
		default:
			p[n] = 0
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// directoryBomb is a one-entry archive whose central directory is
// declared to be declared bytes: its one entry, then zeros up to the end
// record.
func directoryBomb(declared int64) sparse {
	b := ziptest.Archive{Entries: []ziptest.Entry{{Name: "a.npy", Data: []byte("x")}}}.Build()
	end := b[len(b)-22:]
	cdOff, cdSize := int64(binary.LittleEndian.Uint32(end[16:])), int64(binary.LittleEndian.Uint32(end[12:]))
	tail := append([]byte(nil), end...)
	binary.LittleEndian.PutUint32(tail[12:], uint32(declared))
	return sparse{head: b[:cdOff+cdSize], tail: tail, size: cdOff + declared + 22}
}

// TestDeclaredDirectoryIsNotAllocated: a one-entry archive declaring a
// central directory of almost 4 GiB is refused after reading its one
// entry, by the strict reader and by the listing alike, allocating a
// buffer's worth, not the declared size (issue 25, finding 1).
func TestDeclaredDirectoryIsNotAllocated(t *testing.T) {
	bomb := directoryBomb(0xFFFF_FFF0)
	for _, tc := range []struct {
		name string
		read func() error
	}{
		{"NewReader", func() error {
			_, err := strictzip.NewReader(bomb, bomb.size, formats.Limits{})
			return err
		}},
		{"List", func() error {
			entries, err := strictzip.List(bomb, bomb.size, formats.Limits{})
			if err == nil {
				assert.Len(t, entries, 1, "the entry before the padding is still listed")
				return formats.Errorf(formats.KindMalformed, 0, "listed")
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			err := tc.read()
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.Equal(t, formats.KindMalformed, formats.KindOf(err), "%v", err)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "allocated for a declared 4 GiB directory")
		})
	}
}
