//go:build !linux

package main

import (
	"fmt"
	"syscall"
)

// signalName names a signal by number where run does not exist.
func signalName(s syscall.Signal) string { return fmt.Sprintf("signal %d", int(s)) }
