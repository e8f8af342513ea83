//go:build linux && !modelgate_lean

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/pyoracle"
	"github.com/modelgate/modelgate/loader"
)

// modelgate runs this test binary as the CLI (TestMain dispatches on
// argv[0]), as a user runs it: the sandbox trampoline is a real re-exec.
func modelgate(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: append([]string{"modelgate"}, args...)}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return o.String(), e.String(), code
}

// consumer is the Python consumer script, and the directory that holds it
// (which the consumer may read).
func consumer(t *testing.T) (script, dir string) {
	pyoracle.Require(t, "numpy")
	dir, err := filepath.Abs(filepath.Join("testdata", "run"))
	require.NoError(t, err)
	return filepath.Join(dir, "consumer.py"), dir
}

// digestLines decodes the consumer's {"name","sha256"} lines.
func digestLines(t *testing.T, out string) map[string]string {
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l struct{ Name, SHA256 string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), sc.Text())
		got[l.Name] = l.SHA256
	}
	return got
}

// verifiedDigests opens the model in process and hashes every tensor's
// verified bytes.
func verifiedDigests(t *testing.T, p string) map[string]string {
	m, err := loader.Open(context.Background(), p)
	require.NoError(t, err)
	defer m.Close()
	want := map[string]string{}
	for _, tn := range m.Tensors {
		b, err := m.Bytes(tn.Name)
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		want[tn.Name] = hex.EncodeToString(sum[:])
	}
	return want
}

// modelCopy copies a testdata file into a fresh directory and returns its
// path and sha256.
func modelCopy(t *testing.T, rel string) (string, string) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", rel))
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), filepath.Base(rel))
	require.NoError(t, os.WriteFile(p, b, 0o644))
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

// TestRunHandsNumpyTheVerifiedBytes: Debian's numpy reads the sealed file
// through the inherited descriptor (np.memmap of the canonical
// safetensors, np.load of an npy kept as is), and its digests are
// modelgate's.
func TestRunHandsNumpyTheVerifiedBytes(t *testing.T) {
	script, dir := consumer(t)
	for _, rel := range []string{"safetensors/tiny-mlp.safetensors", "safetensors/every-dtype.safetensors", "npy/be-f4.npy", "npy/fortran.npy"} {
		t.Run(rel, func(t *testing.T) {
			p, sum := modelCopy(t, rel)
			out, stderr, code := modelgate(t, "run", "--sha256", sum, "--allow-read", dir, p, "--", "/usr/bin/python3", script, "digests", "{model}")
			require.Equal(t, 0, code, stderr)
			want := verifiedDigests(t, p)
			if strings.HasSuffix(rel, ".npy") {
				want = map[string]string{"array": want[loader.NpyName(filepath.Base(p))]}
			}
			assert.Equal(t, want, digestLines(t, out))
		})
	}
}

// TestRunContainsTheConsumer: every attempt to reach past the sandbox
// fails: the model's own path, /etc/passwd, writing anywhere (the sealed
// file included), memory past --max-memory, the network.
func TestRunContainsTheConsumer(t *testing.T) {
	script, dir := consumer(t)
	p, sum := modelCopy(t, "safetensors/tiny-mlp.safetensors")
	writable := t.TempDir()
	attempts := []string{
		"read", p,
		"list", filepath.Dir(p),
		"read", "/etc/passwd",
		"read", "/proc/1/environ",
		"write", filepath.Join(filepath.Dir(p), "planted"),
		"write", filepath.Join(dir, "planted"),
		"write", "/tmp/modelgate-planted",
		"write-sealed", "-",
		"allocate", "2000000000", // 2 GB past a 1 GiB address space
		"connect", "1.1.1.1",
		"bind", "8089",
	}
	out, stderr, code := modelgate(t, append([]string{"run", "--sha256", sum, "--allow-read", dir, "--allow-write", writable, "--max-memory", "1GiB",
		p, "--", "/usr/bin/python3", script, "attempt"}, attempts...)...)
	require.Equal(t, 0, code, stderr)
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for ; sc.Scan(); n++ {
		var res struct {
			What, Arg, Error string
			OK               bool
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &res), sc.Text())
		assert.Equal(t, attempts[2*n:2*n+2], []string{res.What, res.Arg})
		assert.False(t, res.OK, "the consumer could %s %s", res.What, res.Arg)
		t.Log(res.What, res.Arg, ": ", res.Error)
	}
	assert.Equal(t, len(attempts)/2, n, out)
	// What --allow-write grants works, so the refusals above are the sandbox's.
	out, stderr, code = modelgate(t, "run", "--sha256", sum, "--allow-read", dir, "--allow-write", writable, p, "--", "/usr/bin/python3", script, "attempt", "write", filepath.Join(writable, "ok"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"ok": true`)
}

// TestRunReportsHowTheConsumerEnded: a crash, a limit and a non-zero exit
// each get one line and their exit code; modelgate outlives them all.
func TestRunReportsHowTheConsumerEnded(t *testing.T) {
	script, dir := consumer(t)
	p, sum := modelCopy(t, "safetensors/tiny-mlp.safetensors")
	for _, tc := range []struct {
		name string
		argv []string
		code int
		line string
	}{
		{"SIGSEGV", []string{"/usr/bin/python3", script, "segv", "{model}"}, exitConsumerSignal, "killed by signal SIGSEGV (segmentation fault)"},
		{"CPU limit", []string{"--max-cpu", "1", "--", "/usr/bin/python3", "-c", "while True: pass"}, exitConsumerSignal, "killed by SIGXCPU: CPU time limit of 1 s reached (--max-cpu)"},
		{"exit status", []string{"/usr/bin/python3", "-c", "raise SystemExit(7)"}, exitConsumerFailed, "exited with status 7"},
		{"not executable", []string{"/etc/passwd"}, exitUsage, "CMD:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"run", "--sha256", sum, "--allow-read", dir, p}
			if tc.argv[0] != "--max-cpu" {
				args = append(args, "--")
			}
			_, stderr, code := modelgate(t, append(args, tc.argv...)...)
			assert.Equal(t, tc.code, code, stderr)
			assert.Contains(t, stderr, tc.line)
			assert.Equal(t, 1, strings.Count(stderr, "modelgate: error:"), stderr)
		})
	}
	out, _, code := modelgate(t, "run", "--json", "--sha256", sum, "--allow-read", dir, p, "--", "/usr/bin/python3", script, "segv", "{model}")
	assert.Equal(t, exitConsumerSignal, code)
	assert.Contains(t, out, `"kind": "consumer"`)
}

// TestRunIgnoresAWriterAfterVerification rewrites the model's file in
// place, then replaces it, while the consumer waits: what it then reads
// is what was verified.
func TestRunIgnoresAWriterAfterVerification(t *testing.T) {
	script, dir := consumer(t)
	p, sum := modelCopy(t, "safetensors/tiny-mlp.safetensors")
	want := verifiedDigests(t, p)
	sync := t.TempDir()
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{"modelgate", "run", "--sha256", sum, "--allow-read", dir, "--allow-write", sync,
		p, "--", "/usr/bin/python3", script, "wait", sync, "{model}"}}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	require.NoError(t, cmd.Start())
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(sync, "ready")); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the consumer never started: %s", stderr.String())
	}
	orig, err := os.ReadFile(p)
	require.NoError(t, err)
	evil := bytes.Clone(orig)
	for i := len(evil) - 64; i < len(evil); i++ {
		evil[i] ^= 0xFF
	}
	require.NoError(t, os.WriteFile(p, evil, 0o644)) // in place: the loader's lease is gone with the loader
	require.NoError(t, os.WriteFile(p+".new", evil, 0o644))
	require.NoError(t, os.Rename(p+".new", p))
	require.NoError(t, os.WriteFile(filepath.Join(sync, "go"), nil, 0o644))
	require.NoError(t, cmd.Wait(), stderr.String())
	assert.Equal(t, want, digestLines(t, out.String()))
	assert.NotEqual(t, want, verifiedDigests(t, p), "the file on disk did change")
}

// TestRunRefusesHostileGGUFBeforeTheConsumer: every GGUF fixture the MLX
// profile refuses (those that crash MLX among them) ends run with its
// refusal before the consumer starts.
func TestRunRefusesHostileGGUFBeforeTheConsumer(t *testing.T) {
	marker := t.TempDir()
	for _, e := range readGGUFExpect(t) {
		t.Run(e.file, func(t *testing.T) {
			p, sum := modelCopy(t, filepath.Join("gguf", e.file))
			_, stderr, code := modelgate(t, "run", "--profile", "mlx", "--sha256", sum, "--allow-write", marker, p, "--", "/usr/bin/touch", filepath.Join(marker, "started"))
			assert.Equal(t, exitRefused, code, stderr)
			assert.Contains(t, stderr, "modelgate: error:")
			_, err := os.Stat(filepath.Join(marker, "started"))
			require.True(t, os.IsNotExist(err), "the consumer started on %s", e.file)
		})
	}
	// And one the profile accepts does start it.
	p, sum := modelCopy(t, "gguf/mlx-quantized.gguf")
	_, stderr, code := modelgate(t, "run", "--profile", "mlx", "--sha256", sum, "--allow-write", marker, p, "--", "/usr/bin/touch", filepath.Join(marker, "started"))
	require.Equal(t, 0, code, stderr)
	assert.FileExists(t, filepath.Join(marker, "started"))
}

type ggufExpect struct{ file, verdict string }

// readGGUFExpect lists testdata/gguf/EXPECT's fixtures refused under the
// MLX profile (a line's mlx= verdict, else its verdict).
func readGGUFExpect(t *testing.T) []ggufExpect {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gguf", "EXPECT"))
	require.NoError(t, err)
	var out []ggufExpect
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v := f[1]
		if len(f) > 2 && strings.HasPrefix(f[2], "mlx=") {
			v = strings.TrimPrefix(f[2], "mlx=")
		}
		if v != "accept" {
			out = append(out, ggufExpect{f[0], v})
		}
	}
	require.Greater(t, len(out), 30)
	return out
}

// TestRunKeepsTheModelOutOfReach refuses grants that would give the
// consumer the model's path, before verifying anything.
func TestRunKeepsTheModelOutOfReach(t *testing.T) {
	p, sum := modelCopy(t, "safetensors/tiny-mlp.safetensors")
	for _, grant := range [][]string{
		{"--allow-read", filepath.Dir(p)},
		{"--allow-read", p},
		{"--allow-write", filepath.Dir(filepath.Dir(p))},
	} {
		args := append(append([]string{"run", "--sha256", sum}, grant...), p, "--", "/bin/true")
		_, stderr, code := modelgate(t, args...)
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, "would let CMD reach the model's path")
	}
	_, stderr, code := modelgate(t, "run", "--sha256", sum, p, "/bin/true")
	assert.Equal(t, exitUsage, code, stderr)
}
