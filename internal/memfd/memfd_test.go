//go:build linux

package memfd

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func sealed(t *testing.T, content []byte) *os.File {
	f, err := Create("test", func(w io.Writer) error { _, err := w.Write(content); return err })
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// TestNobodyChangesSealedBytes tries every way to change a sealed memfd,
// as its creator: through a descriptor reopened read-write, which the
// kernel grants (the file's mode allows it) but whose every change the
// seals refuse with EPERM.
func TestNobodyChangesSealedBytes(t *testing.T) {
	content := bytes.Repeat([]byte("verified"), 1024)
	f := sealed(t, content)
	require.NoError(t, Check(f))
	rw, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_RDWR, 0)
	require.NoError(t, err)
	defer rw.Close()
	fd := int(rw.Fd())
	attempts := map[string]func() error{
		"write":            func() error { _, err := rw.Write([]byte("x")); return err },
		"pwrite":           func() error { _, err := unix.Pwrite(fd, []byte("x"), 10); return err },
		"truncate":         func() error { return unix.Ftruncate(fd, 1) },
		"truncate to zero": func() error { return unix.Ftruncate(fd, 0) },
		"grow":             func() error { return unix.Ftruncate(fd, int64(len(content))*2) },
		"fallocate":        func() error { return unix.Fallocate(fd, 0, int64(len(content)), 4096) },
		"punch a hole":     func() error { return unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 4096) },
		"mmap shared writable": func() error {
			_, err := unix.Mmap(fd, 0, len(content), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			return err
		},
		"add a seal": func() error {
			_, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_FUTURE_WRITE)
			return err
		},
		"write the ro file":    func() error { _, err := f.Write([]byte("x")); return err },
		"truncate the ro file": func() error { return f.Truncate(0) },
		"mprotect the ro file writable": func() error {
			b, err := unix.Mmap(int(f.Fd()), 0, len(content), unix.PROT_READ, unix.MAP_SHARED)
			if err != nil {
				return err
			}
			defer unix.Munmap(b)
			return unix.Mprotect(b, unix.PROT_READ|unix.PROT_WRITE)
		},
	}
	for name, try := range attempts {
		t.Run(name, func(t *testing.T) {
			err := try()
			require.Error(t, err)
			if strings.Contains(name, "ro file") { // refused for the descriptor's mode
				assert.True(t, errors.Is(err, unix.EBADF) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EACCES), "%v", err)
				return
			}
			assert.ErrorIs(t, err, unix.EPERM, "the seals refuse it")
		})
	}
	got, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	require.NoError(t, err)
	assert.Equal(t, content, got)
	// A private writable mapping changes only the mapper's copy.
	b, err := unix.Mmap(fd, 0, len(content), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	require.NoError(t, err)
	b[0] = 'X'
	require.NoError(t, unix.Munmap(b))
	got, err = io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	require.NoError(t, err)
	assert.Equal(t, content, got)
}

func TestCheckRefusesUnsealedFiles(t *testing.T) {
	disk, err := os.CreateTemp(t.TempDir(), "x")
	require.NoError(t, err)
	defer disk.Close()
	assert.Error(t, Check(disk))
	fd, err := unix.MemfdCreate("open", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	require.NoError(t, err)
	open := os.NewFile(uintptr(fd), "open")
	defer open.Close()
	assert.ErrorContains(t, Check(open), "not sealed")
	_, err = unix.FcntlInt(open.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW)
	require.NoError(t, err)
	assert.ErrorContains(t, Check(open), "not sealed", "a memfd that can still be written is not sealed")
}

func TestCreateReportsTheWritersError(t *testing.T) {
	want := errors.New("refused")
	_, err := Create("x", func(io.Writer) error { return want })
	assert.ErrorIs(t, err, want)
}
