//go:build modelgate_lean && unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// execFull replaces this process with the full program, so that signals,
// the exit status and the standard streams are the full program's own. It
// returns only when the exec failed.
func execFull(path string, args []string) error {
	err := syscall.Exec(path, append([]string{path}, args...), append(os.Environ(), handedOver+"=1"))
	return fmt.Errorf("running %s: %w", path, err)
}
