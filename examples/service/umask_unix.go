//go:build unix

package main

import (
	"os"
	"syscall"
)

// processUmask returns the process's umask. Reading it means setting it,
// so it is read once, before serving.
func processUmask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}
