//go:build unix

package regular

import (
	"os"
	"syscall"
)

// Links returns how many hard links name the file st describes.
func Links(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Nlink)
	}
	return 1
}
