//go:build modelgate_lean && !unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// execFull runs the full program with this process's streams and exits
// with its status (a system without exec(2) cannot replace the process).
// It returns only when the program could not be started.
func execFull(path string, args []string) error {
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), handedOver+"=1")
	err := cmd.Run()
	var exit *exec.ExitError
	if err == nil || errors.As(err, &exit) {
		os.Exit(cmd.ProcessState.ExitCode())
	}
	return fmt.Errorf("running %s: %w", path, err)
}
