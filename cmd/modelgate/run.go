package main

import (
	"fmt"
	"syscall"

	"github.com/modelgate/modelgate/internal/safetext"
)

// consumerError is a consumer that could not start, exited non-zero, or
// was killed by a signal (a crash or a limit).
type consumerError struct {
	command string
	start   string // why it could not start
	exit    int    // its exit status, when it exited
	signal  syscall.Signal
	limit   string // the limit the signal enforces, if one does
}

func (e *consumerError) Error() string {
	cmd := safetext.Escape(e.command)
	switch {
	case e.start != "":
		return fmt.Sprintf("consumer %s could not be started: %s", cmd, e.start)
	case e.signal != 0 && e.limit != "":
		return fmt.Sprintf("consumer %s killed by %s: %s", cmd, signalName(e.signal), e.limit)
	case e.signal != 0:
		return fmt.Sprintf("consumer %s killed by signal %s (%s)", cmd, signalName(e.signal), e.signal)
	}
	return fmt.Sprintf("consumer %s exited with status %d", cmd, e.exit)
}

// exitCode is run's exit code for the failure.
func (e *consumerError) exitCode() int {
	if e.signal != 0 {
		return exitConsumerSignal
	}
	return exitConsumerFailed
}
