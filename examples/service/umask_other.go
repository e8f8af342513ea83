//go:build !unix

package main

import "os"

// umask returns 0 where there is none.
func umask() os.FileMode { return 0 }
