//go:build linux

// Package memfd holds bytes in a sealed Linux memfd: an anonymous file in
// shared memory that, once sealed, nobody can change, its creator
// included. The kernel refuses every write, truncation, growth, shared
// writable mapping and further change of the seals (F_SEAL_WRITE,
// F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL); a process that receives the
// descriptor (inherited, or over a Unix socket) can check the seals with
// Seals and trust the bytes without trusting the sender's future
// behaviour.
package memfd

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// All is the set of seals Create applies, and the set Check requires.
const All = unix.F_SEAL_WRITE | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL

// Create makes a memfd named name (the name shows in /proc/PID/fd links
// only), lets write fill it, seals it, and returns it opened read-only at
// offset 0. The writable descriptor used to fill it is closed before
// Create returns, and no writable mapping of it exists: the seals could not
// be applied otherwise. The returned file is close-on-exec; pass it as
// exec.Cmd.ExtraFiles or over a socket to hand it on.
func Create(name string, write func(io.Writer) error) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	w := os.NewFile(uintptr(fd), "memfd:"+name)
	defer w.Close()
	if err := write(w); err != nil {
		return nil, err
	}
	if _, err := unix.FcntlInt(w.Fd(), unix.F_ADD_SEALS, All); err != nil {
		return nil, fmt.Errorf("sealing the memfd: %w", err)
	}
	// A read-only description of the same file: the consumer gets no
	// writable descriptor even to try with.
	r, err := os.Open("/proc/self/fd/" + strconv.Itoa(int(w.Fd())))
	if err != nil {
		return nil, fmt.Errorf("reopening the sealed memfd read-only: %w", err)
	}
	return r, nil
}

// Seals returns the seals set on f (0 for a memfd without any; an error
// for a file that cannot be sealed, such as a regular file on disk).
func Seals(f *os.File) (int, error) {
	s, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return 0, fmt.Errorf("F_GET_SEALS: %w", err)
	}
	return s, nil
}

// Check fails unless f carries every seal Create applies: the check a
// receiver makes before it trusts the bytes not to change.
func Check(f *os.File) error {
	s, err := Seals(f)
	if err != nil {
		return fmt.Errorf("the file is not sealed against change (%w: not a memfd)", err)
	}
	if s&All != All {
		return fmt.Errorf("the file is not sealed against change (seals %#x, need %#x)", s, All)
	}
	return nil
}
