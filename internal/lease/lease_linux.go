//go:build linux

// Package lease keeps a verified file's bytes from changing under the
// process that verified them, with a Linux read lease (fcntl F_SETLEASE).
//
// While a read lease is held, any other open of the file for writing,
// and any truncate(2), blocks in the kernel, and the holder is sent
// SIGIO. On that signal this package first makes the verified bytes
// private, then releases the lease so the writer can proceed:
//
//   - a protected mapping is replaced, at the same addresses, by an
//     anonymous copy of its (still unchanged) contents (mremap with
//     MREMAP_FIXED moves the copy over the file's pages atomically), so
//     slices handed out keep the verified bytes and a later truncation
//     cannot make reading them fault;
//   - an unprotected lease (reads through the file) is marked broken, so
//     that the reader refuses every read from then on.
//
// A lease can only be taken when no one has the file open for writing
// (EAGAIN), by the file's owner or a process with CAP_LEASE (EACCES), on
// file systems that support leases; Take reports the error and the caller
// falls back to a private copy. The kernel waits lease-break-time (45 s by
// default) for the release; a holder that cannot copy the file in that
// time loses the guarantee, which is why Take's callers copy at most the
// files they map.
package lease

import (
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Supported reports whether leases exist here.
const Supported = true

// Lease is a read lease on one open file.
type Lease struct {
	f      *os.File
	mu     sync.Mutex // held while the lease breaks, or is released
	mem    []byte     // a mapping to make private on break, if any
	broken atomic.Bool
	done   bool
}

var (
	mu     sync.Mutex
	active = map[*Lease]bool{}
	start  sync.Once
)

// Take places a read lease on f.
func Take(f *os.File) (*Lease, error) {
	start.Do(watch)
	l := &Lease{f: f}
	mu.Lock()
	active[l] = true
	mu.Unlock()
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		mu.Lock()
		delete(active, l)
		mu.Unlock()
		return nil, &os.PathError{Op: "fcntl F_SETLEASE", Path: f.Name(), Err: err}
	}
	return l, nil
}

// Protect asks that mem, a read-only mapping of the leased file, be made
// private when the lease breaks.
func (l *Lease) Protect(mem []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mem = mem
}

// Broken reports whether another process asked to write the file (the
// protected mapping, if any, is then private).
func (l *Lease) Broken() bool { return l.broken.Load() }

// Release gives the lease up.
func (l *Lease) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.release()
}

func (l *Lease) release() error {
	if l.done {
		return nil
	}
	l.done = true
	mu.Lock()
	delete(active, l)
	mu.Unlock()
	_, err := unix.FcntlInt(l.f.Fd(), unix.F_SETLEASE, unix.F_UNLCK)
	return err
}

// watch handles SIGIO: the kernel does not say which lease broke, so
// every active lease is asked.
func watch() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGIO)
	go func() {
		for range ch {
			mu.Lock()
			var ls []*Lease
			for l := range active {
				ls = append(ls, l)
			}
			mu.Unlock()
			for _, l := range ls {
				l.check()
			}
		}
	}()
}

// check breaks l if the kernel says a writer is waiting (the lease's
// target type is then F_UNLCK).
func (l *Lease) check() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return
	}
	if t, err := unix.FcntlInt(l.f.Fd(), unix.F_GETLEASE, 0); err != nil || t == unix.F_RDLCK {
		return
	}
	if l.mem != nil {
		_ = privatise(l.f, l.mem) // on failure the writer still waits the break time
	}
	l.broken.Store(true)
	_ = l.release()
}

// privatise replaces the pages of mem, a mapping of f, by an anonymous
// copy of them, at the same addresses. The copy is pre-faulted
// (MAP_POPULATE) and read from f (the writer is still waiting, so f holds
// the same bytes) rather than copied out of the mapping a page fault at a
// time: a writer of a 256 MiB file waited 243-611 ms instead of
// 906-1222 ms (BenchmarkLeaseBreak).
func privatise(f *os.File, mem []byte) error {
	cp, err := unix.Mmap(-1, 0, len(mem), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return err
	}
	if n, err := f.ReadAt(cp, 0); n != len(cp) {
		_ = err
		copy(cp, mem)
	}
	if err := unix.Mprotect(cp, unix.PROT_READ); err != nil {
		return err
	}
	_, _, errno := unix.Syscall6(unix.SYS_MREMAP, uintptr(unsafe.Pointer(&cp[0])), uintptr(len(cp)), uintptr(len(mem)),
		unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, uintptr(unsafe.Pointer(&mem[0])), 0)
	if errno != 0 {
		_ = unix.Munmap(cp)
		return errno
	}
	return nil
}
