//go:build !unix

package main

import "os"

// processUmask is 0 where there is no umask.
func processUmask() os.FileMode { return 0 }
