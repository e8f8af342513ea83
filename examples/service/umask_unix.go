//go:build unix

package main

import (
	"os"
	"syscall"
)

// umask returns the process's umask. Reading it means setting it and back,
// which races with files created meanwhile: call it before serving.
func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}
