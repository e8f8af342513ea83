//go:build !unix

package regular

import "os"

// Links returns 1: this system does not report hard links.
func Links(st os.FileInfo) uint64 { return 1 }
