//go:build !linux && !modelgate_lean

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newRun stands in for run, which needs Linux (memfd, Landlock).
func (c *cli) newRun() *cobra.Command {
	return &cobra.Command{
		Use:                "run [verify flags] MODEL -- CMD [ARG]...",
		Short:              "Verify, seal and run CMD on the verified bytes, contained (Linux only)",
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError{errors.New("run needs Linux (sealed memfds and Landlock); use verify, then convert, and load the converted file")}
		},
	}
}

// newSandboxExec exists on Linux only.
func (c *cli) newSandboxExec() *cobra.Command {
	return &cobra.Command{Use: "__sandbox-exec", Hidden: true}
}
