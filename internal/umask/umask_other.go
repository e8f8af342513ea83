//go:build !unix

package umask

import "os"

// Get returns 0 where there is none.
func Get() os.FileMode { return 0 }
