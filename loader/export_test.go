package loader

import (
	"errors"
	"os"

	"github.com/modelgate/modelgate/internal/lease"
)

// WithoutLeasesForTest makes every lease fail, as it does for a user who
// does not own the files, until restore is called.
func WithoutLeasesForTest() (restore func()) {
	takeLease = func(f *os.File) (*lease.Lease, error) {
		return nil, &os.PathError{Op: "fcntl F_SETLEASE", Path: f.Name(), Err: errors.New("permission denied (test)")}
	}
	return func() { takeLease = lease.Take }
}
