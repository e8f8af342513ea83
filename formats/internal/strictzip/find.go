package strictzip

import (
	"bytes"
	"encoding/binary"
	"io"
)

// EndRecord returns the offset of the last end-of-central-directory
// signature, with room for the 22-byte record after it, in the final
// 64 KiB + 22 bytes of r: where Python's zipfile (which then allows for
// data prepended to the archive), torch's miniz and archive/zip look for
// an archive whatever the file starts with. It returns -1 if there is
// none; the error is for I/O only.
func EndRecord(r io.ReaderAt, size int64) (int64, error) {
	tailLen := min(size, endLen+maxComment)
	if tailLen < endLen {
		return -1, nil
	}
	z := &Reader{r: r, size: size}
	tail, err := z.readAt(size-tailLen, int(tailLen))
	if err != nil {
		return -1, err
	}
	var sig [4]byte
	binary.LittleEndian.PutUint32(sig[:], sigEnd)
	i := bytes.LastIndex(tail[:len(tail)-endLen+4], sig[:])
	if i < 0 {
		return -1, nil
	}
	return size - tailLen + int64(i), nil
}
