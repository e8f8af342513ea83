//go:build !linux

// Package lease keeps a verified file's bytes from changing under the
// process that verified them. Only Linux has read leases; elsewhere Take
// fails and callers fall back to a private copy.
package lease

import (
	"errors"
	"os"
)

// Supported reports whether leases exist here.
const Supported = false

// Lease is a read lease on one open file.
type Lease struct{}

// Take fails: no read leases here.
func Take(f *os.File) (*Lease, error) { return nil, errors.New("read leases are Linux-only") }

// Protect does nothing.
func (l *Lease) Protect(mem []byte) {}

// Broken reports false.
func (l *Lease) Broken() bool { return false }

// Release does nothing.
func (l *Lease) Release() error { return nil }
