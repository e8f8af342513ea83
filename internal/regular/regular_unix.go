//go:build unix

package regular

import "syscall"

// openNonblock keeps open from blocking on a FIFO; it changes nothing for
// a regular file.
const openNonblock = syscall.O_NONBLOCK
