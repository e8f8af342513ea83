//go:build linux && !modelgate_lean

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/sandbox"
	"github.com/modelgate/modelgate/verify"
)

// The hand-off: the descriptor the consumer inherits, the placeholder
// its arguments may hold, and the environment that names it.
const (
	sealedFD      = 3
	statusFD      = 4 // the trampoline's close-on-exec error channel
	placeholder   = "{model}"
	trampolineCmd = "__sandbox-exec"
)

var sealedPath = "/proc/self/fd/" + strconv.Itoa(sealedFD)

// runFlags contain the consumer.
type runFlags struct {
	read, write []string
	network     bool
	noSandbox   bool
	maxMemory   string
	maxCPU      uint64
	maxFiles    uint64
}

// runResult is the JSON shape of `modelgate run --json`.
type runResult struct {
	verifyResult
	Sealed   sealedResult   `json:"sealed"`
	Consumer consumerResult `json:"consumer"`
}

type sealedResult struct {
	Format formats.Format `json:"format"`
	Size   int64          `json:"size"`
	Path   string         `json:"path"` // as the consumer sees it
}

type consumerResult struct {
	Command   string `json:"command"`
	ExitCode  int    `json:"exit_code"`
	Sandboxed bool   `json:"sandboxed"`
}

func (c *cli) newRun() *cobra.Command {
	var lf loadFlags
	var rf runFlags
	cmd := &cobra.Command{
		Use:   "run [verify flags] [--allow-read PATH]... [--allow-write PATH]... [--network] [--max-memory SIZE] [--max-cpu SECONDS] [--max-files N] [--no-sandbox] MODEL -- CMD [ARG]...",
		Short: "Verify a model as verify does, seal the verified bytes, and run CMD on them, contained",
		Long: `run verifies MODEL exactly as verify does (the same flags), writes what was
verified into a sealed memfd (the canonical safetensors convert writes, or a
lone GGUF or npy file byte for byte), and starts CMD with it inherited as
descriptor 3. CMD finds it as ` + sealedPath + `: any argument holding
` + placeholder + ` has it substituted, and the environment carries
MODELGATE_MODEL_PATH, MODELGATE_MODEL_FD and MODELGATE_MODEL_FORMAT. Nobody
can change the sealed bytes, and what happens to MODEL's path afterwards
changes nothing CMD reads.

CMD runs contained: no_new_privs; Landlock lets it read and execute only
the system directories (/usr, /lib, /bin, the loader's cache), its own
executable and --allow-read paths, and write only --allow-write paths
(and /dev/null); never MODEL's path. Without --network it gets a new
network namespace (no interfaces up) and Landlock's TCP rules. Its address
space, CPU seconds and open files are limited; no core file is written.
Where Landlock is missing, run refuses unless --no-sandbox is given.

Exit codes: 0 CMD exited 0; 1, 2, 3 as verify (CMD never started); 4 CMD
could not start or exited non-zero (its status is in the message and in
--json's error); 5 CMD was killed by a signal (a crash, or --max-cpu).
With --json, CMD's stdout goes to stderr and stdout carries one object.`,
		Example: `  modelgate run --sha256-file model.sums ./llama -- /usr/bin/python3 serve.py --weights {model}
  modelgate run --policy policy.yaml --profile mlx --network --allow-read /srv/app /models/llama -- /srv/app/server`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 || len(args) < 2 {
				return usageError{errors.New("give MODEL -- CMD [ARG]...")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd.Context(), &lf, &rf, args[0], args[1:])
		},
	}
	lf.register(cmd, true)
	fl := cmd.Flags()
	fl.StringArrayVar(&rf.read, "allow-read", nil, "let CMD read (and execute) `PATH` (repeatable; never one holding MODEL)")
	fl.StringArrayVar(&rf.write, "allow-write", nil, "let CMD read and write `PATH` (repeatable; never one holding MODEL)")
	fl.BoolVar(&rf.network, "network", false, "let CMD use the network (default: a new network namespace with none)")
	fl.BoolVar(&rf.noSandbox, "no-sandbox", false, "run CMD uncontained where Landlock is missing (no file, network or resource limits)")
	fl.StringVar(&rf.maxMemory, "max-memory", "auto", "CMD's address space limit (RLIMIT_AS), e.g. 16GiB; auto: the sealed model's size plus 8 GiB; 0: none")
	fl.Uint64Var(&rf.maxCPU, "max-cpu", 0, "CMD's CPU time limit in `SECONDS` (RLIMIT_CPU; SIGXCPU, then SIGKILL); 0: none")
	fl.Uint64Var(&rf.maxFiles, "max-files", 1024, "the most files CMD may hold open (RLIMIT_NOFILE)")
	return cmd
}

// run verifies, seals, starts the consumer and reports how it ended.
func (c *cli) run(ctx context.Context, lf *loadFlags, rf *runFlags, model string, argv []string) error {
	exe, err := exec.LookPath(argv[0])
	if err == nil {
		exe, err = filepath.Abs(exe)
	}
	if err != nil {
		return usageError{fmt.Errorf("CMD: %w", err)}
	}
	maxMemory, err := parseMemory(rf.maxMemory)
	if err != nil {
		return usageError{fmt.Errorf("--max-memory: %w", err)}
	}
	if !rf.noSandbox {
		if err := sandbox.Available(); err != nil {
			return usageError{fmt.Errorf("%w; give --no-sandbox to run CMD uncontained", err)}
		}
		if err := outsideGrants(model, rf); err != nil {
			return usageError{err}
		}
	}
	m, err := c.verifyModel(ctx, lf, model)
	if err != nil {
		return err
	}
	res := runResult{verifyResult: verifyResult{Path: model, Files: m.Files, Tensors: len(m.Tensors), Verified: m.Verified}}
	sealed, err := m.Seal()
	res.Sealed.Format = m.SealFormat()
	m.Close()
	if err != nil {
		return err
	}
	defer sealed.Close()
	if st, err := sealed.Stat(); err == nil {
		res.Sealed.Size = st.Size()
	}
	res.Sealed.Path = sealedPath
	if maxMemory < 0 {
		maxMemory = res.Sealed.Size + 8<<30
	}
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = strings.ReplaceAll(a, placeholder, sealedPath)
	}
	spec := sandbox.Spec{
		Path: exe, Args: args, Read: rf.read, Write: rf.write, NoNetwork: !rf.network,
		MaxAddressSpace: uint64(maxMemory), MaxCPUSeconds: rf.maxCPU, MaxOpenFiles: rf.maxFiles,
	}
	res.Consumer = consumerResult{Command: exe, Sandboxed: !rf.noSandbox}
	stdout := c.stdout
	if c.json {
		stdout = c.stderr
	}
	if err := consume(spec, rf.noSandbox, sealed, res.Sealed.Format, stdout, c.stderr); err != nil {
		return err
	}
	return c.emit(res)
}

// parseMemory reads --max-memory: -1 for auto.
func parseMemory(s string) (int64, error) {
	if s == "auto" {
		return -1, nil
	}
	n, err := verify.ParseSize(s)
	return int64(n), err
}

// outsideGrants refuses paths the consumer would be granted that hold the
// model, or lie inside it: the consumer reads the sealed bytes only.
func outsideGrants(model string, rf *runFlags) error {
	m, err := resolve(model)
	if err != nil {
		return nil // the loader reports a missing model
	}
	check := func(flag string, paths []string) error {
		for _, p := range paths {
			g, err := resolve(p)
			if err != nil {
				continue // Landlock grants nothing on a missing path
			}
			if within(m, g) || within(g, m) {
				return fmt.Errorf("%s %s would let CMD reach the model's path %s; CMD reads the verified bytes through %s", flag, p, model, placeholder)
			}
		}
		return nil
	}
	if err := check("the system path", sandbox.SystemReadPaths); err != nil {
		return err
	}
	if err := check("--allow-read", rf.read); err != nil {
		return err
	}
	return check("--allow-write", rf.write)
}

func resolve(p string) (string, error) {
	a, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(a)
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// consume runs the consumer with the sealed file as descriptor 3, waits for
// it and says how it ended. modelgate outlives it whatever it does.
func consume(spec sandbox.Spec, unsandboxed bool, sealed *os.File, format formats.Format, stdout, stderr io.Writer) error {
	var cmd *exec.Cmd
	var err error
	if unsandboxed {
		cmd = &exec.Cmd{Path: spec.Path, Args: spec.Args}
	} else if cmd, err = sandbox.Command("/proc/self/exe", "modelgate", []string{trampolineCmd}, spec); err != nil {
		return formats.IOError(formats.NoOffset, err)
	}
	status, statusW, err := os.Pipe()
	if err != nil {
		return formats.IOError(formats.NoOffset, err)
	}
	defer status.Close()
	cmd.ExtraFiles = []*os.File{sealed, statusW}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Env = append(os.Environ(),
		"MODELGATE_MODEL_FD="+strconv.Itoa(sealedFD),
		"MODELGATE_MODEL_PATH="+sealedPath,
		"MODELGATE_MODEL_FORMAT="+string(format))
	// A terminal's interrupt reaches the consumer itself; modelgate waits
	// to report how it ended. Termination requests are passed on.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		statusW.Close()
		return &consumerError{command: spec.Path, start: err.Error()}
	}
	statusW.Close()
	why, _ := io.ReadAll(io.LimitReader(status, 4096)) // EOF at the consumer's execve
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s != os.Interrupt {
					_ = cmd.Process.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if len(why) > 0 {
		return &consumerError{command: spec.Path, start: string(why)}
	}
	return ended(spec, cmd.ProcessState, err)
}

// ended turns the consumer's end into nil or a consumerError.
func ended(spec sandbox.Spec, ps *os.ProcessState, waitErr error) error {
	if ps == nil {
		return formats.IOError(formats.NoOffset, waitErr)
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	e := &consumerError{command: spec.Path}
	switch {
	case ws.Signaled():
		e.signal = ws.Signal()
		cpu := ps.UserTime() + ps.SystemTime()
		if spec.MaxCPUSeconds > 0 && (e.signal == syscall.SIGXCPU || e.signal == syscall.SIGKILL && cpu.Seconds() >= float64(spec.MaxCPUSeconds)) {
			e.limit = fmt.Sprintf("CPU time limit of %d s reached (--max-cpu)", spec.MaxCPUSeconds)
		}
		return e
	case ps.ExitCode() != 0:
		e.exit = ps.ExitCode()
		return e
	}
	return nil
}

// newSandboxExec is the trampoline run starts: it contains itself as the
// spec says and execve's the consumer, or reports why not on the status
// descriptor. It is not for people.
func (c *cli) newSandboxExec() *cobra.Command {
	return &cobra.Command{
		Use:                trampolineCmd + " SPEC",
		Hidden:             true,
		DisableFlagParsing: true,
		Args:               exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			unix.CloseOnExec(statusFD)
			spec, err := sandbox.ParseSpec(args[0])
			if err == nil {
				err = sandbox.Enter(spec) // returns only on failure
			}
			_, _ = unix.Write(statusFD, []byte(err.Error()))
			os.Exit(exitConsumerFailed)
			return nil
		},
	}
}
