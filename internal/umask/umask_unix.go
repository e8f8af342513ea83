//go:build unix

// Package umask reads the process's file-creation mask, for files that
// should get the usual permissions where os.CreateTemp gives 0600.
package umask

import (
	"os"
	"syscall"
)

// Get returns the process's umask. Reading it means setting it and back,
// which races with files created meanwhile: call it before serving.
func Get() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}
