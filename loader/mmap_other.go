//go:build !unix

package loader

import "os"

// mapFile is unavailable here; Open reads through io.ReaderAt instead.
func mapFile(*os.File, int64) ([]byte, func() error, error) {
	return nil, func() error { return nil }, nil
}

const canMap = false
