//go:build linux

// Package sandbox contains a consumer process: it runs in a child that
// applies the limits to itself and then execve's the consumer, since
// Landlock and no_new_privs restrict the calling process and Go's os/exec
// runs no code between fork and exec. The parent starts the child with
// Command; the child (a small trampoline, modelgate's hidden
// `__sandbox-exec`) calls Enter with the Spec it was given, which never
// returns on success.
//
// What Enter applies, in order:
//   - no_new_privs (prctl PR_SET_NO_NEW_PRIVS): no set-uid or file
//     capabilities gained on exec;
//   - Landlock: reading and executing only the system directories
//     (SystemReadPaths), the consumer's own executable and Spec.Read;
//     writing only Spec.Write; with Spec.NoNetwork, no TCP bind or
//     connect (ABI 4) and no abstract Unix sockets or signals beyond the
//     domain (ABI 6);
//   - rlimits: address space (RLIMIT_AS), CPU seconds (RLIMIT_CPU: SIGXCPU,
//     then SIGKILL a second later), open files (RLIMIT_NOFILE), and no core
//     files (RLIMIT_CORE 0: a crash leaves no copy of the model on disk).
//
// Spec.NoNetwork also puts the child in a new network namespace (Command
// sets CLONE_NEWNET, with CLONE_NEWUSER when not root), which holds only a
// loopback interface that is down: Landlock's TCP rules do not cover UDP
// or Multipath TCP, a namespace does.
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// SystemReadPaths are the directories and files a dynamically linked
// program or an interpreter needs to start: the loader, libraries,
// interpreters and their modules, and the loader's cache. /etc as a whole,
// /home, /proc and /tmp are not among them.
var SystemReadPaths = []string{"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"}

// DevicePaths are read and written: the null device and the kernel's
// random sources, which many runtimes open at start.
var DevicePaths = []string{"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"}

// abiVersion asks the kernel (a variable so that tests can be a kernel
// without Landlock).
var abiVersion = llsys.LandlockGetABIVersion

// Spec says how to contain one consumer.
type Spec struct {
	Path      string   `json:"path"`  // absolute path of the executable
	Args      []string `json:"args"`  // argv, Args[0] included
	Read      []string `json:"read"`  // further paths it may read (and execute)
	Write     []string `json:"write"` // paths it may read and write
	NoNetwork bool     `json:"no_network"`
	// Limits; 0 leaves the limit as inherited.
	MaxAddressSpace uint64 `json:"max_address_space"` // bytes
	MaxCPUSeconds   uint64 `json:"max_cpu_seconds"`
	MaxOpenFiles    uint64 `json:"max_open_files"`
}

// ABI returns the Landlock ABI version the kernel offers, 0 when it
// offers none (not built in, not enabled among the LSMs, or disabled at
// boot), with the reason.
func ABI() (int, error) {
	v, err := abiVersion()
	if err != nil {
		return 0, err
	}
	return v, nil
}

// Available says why the sandbox cannot be applied here, or returns nil.
func Available() error {
	v, err := ABI()
	if v < 1 {
		return fmt.Errorf("Landlock is not available in this kernel (%v): the consumer's file access cannot be restricted", err)
	}
	return nil
}

// Command returns the command that starts the trampoline self (with
// argv[0] name and the arguments before the spec) to contain s. The caller
// sets Stdin, Stdout, Stderr, ExtraFiles and Env.
func Command(self, name string, pre []string, s Spec) (*exec.Cmd, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: self, Args: append(append([]string{name}, pre...), string(b))}
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if s.NoNetwork {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
		if uid, gid := os.Getuid(), os.Getgid(); uid != 0 {
			cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
			cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
			cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
		}
	}
	return cmd, nil
}

// ParseSpec decodes the spec Command passed.
func ParseSpec(arg string) (Spec, error) {
	var s Spec
	err := json.Unmarshal([]byte(arg), &s)
	if err == nil && (s.Path == "" || len(s.Args) == 0) {
		err = errors.New("no command")
	}
	return s, err
}

// Enter applies s to this process and execve's the consumer. It returns
// only on failure; the process must then exit.
func Enter(s Spec) error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if err := restrict(s); err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	if err := limit(s); err != nil {
		return err
	}
	err := syscall.Exec(s.Path, s.Args, os.Environ())
	return fmt.Errorf("exec %s: %w", s.Path, err)
}

// restrict applies the Landlock rules.
func restrict(s Spec) error {
	rules := []landlock.Rule{
		landlock.RODirs(existing(SystemReadPaths, true)...),
		landlock.ROFiles(existing(SystemReadPaths, false)...),
		landlock.RWFiles(existing(DevicePaths, false)...),
		landlock.ROFiles(s.Path),
	}
	for _, set := range []struct {
		paths   []string
		dir, rw func(...string) landlock.FSRule
	}{{s.Read, landlock.RODirs, landlock.ROFiles}, {s.Write, landlock.RWDirs, landlock.RWFiles}} {
		if d := existing(set.paths, true); len(d) > 0 {
			rules = append(rules, set.dir(d...))
		}
		if f := existing(set.paths, false); len(f) > 0 {
			rules = append(rules, set.rw(f...))
		}
	}
	cfg := landlock.V7.BestEffort()
	if s.NoNetwork {
		return cfg.Restrict(rules...) // paths, TCP (no port allowed) and scoped IPC
	}
	return cfg.RestrictPaths(rules...)
}

// existing returns the paths that exist and are directories (dirs) or
// not. Missing paths are left out: Landlock cannot name them, and a
// missing path grants nothing.
func existing(paths []string, dirs bool) []string {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err == nil && st.IsDir() == dirs {
			out = append(out, p)
		}
	}
	return out
}

// limit sets the rlimits.
func limit(s Spec) error {
	set := func(name string, res int, soft, hard uint64) error {
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: soft, Max: hard}); err != nil {
			return fmt.Errorf("setrlimit %s=%d: %w", name, soft, err)
		}
		return nil
	}
	if err := set("RLIMIT_CORE", unix.RLIMIT_CORE, 0, 0); err != nil {
		return err
	}
	if s.MaxCPUSeconds > 0 {
		if err := set("RLIMIT_CPU", unix.RLIMIT_CPU, s.MaxCPUSeconds, s.MaxCPUSeconds+1); err != nil {
			return err
		}
	}
	if s.MaxOpenFiles > 0 {
		if err := set("RLIMIT_NOFILE", unix.RLIMIT_NOFILE, s.MaxOpenFiles, s.MaxOpenFiles); err != nil {
			return err
		}
	}
	if s.MaxAddressSpace > 0 { // last: the trampoline itself may need memory until here
		if err := set("RLIMIT_AS", unix.RLIMIT_AS, s.MaxAddressSpace, s.MaxAddressSpace); err != nil {
			return err
		}
	}
	return nil
}
