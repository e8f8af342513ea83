// Package consumers runs the real programs that read a model after
// modelgate, as differential oracles in tests: ggml's own GGUF reader
// (libggml-base.so from the npm package @node-llama-cpp/linux-x64, through
// a small C harness built with gcc), @huggingface/gguf, onnxruntime-node
// and @huggingface/jinja on node; numpy, onnx, h5py, sentencepiece and
// jinja2 through Debian's /usr/bin/python3; and, locally, a real MLX build
// through the loader whose path MODELGATE_MLX_LOADER names.
//
// Each reader prints one Reading per file: tensor names, dtypes, shapes,
// offsets, sizes, metadata and a digest of the bytes, in one normalised
// spelling, so that readings compare with ==. A reader runs as one
// long-lived process fed a path a line (MLX: one process per file); a
// reader that dies or stops answering on a file is recorded as crashing or
// hanging on it, and restarted for the next.
//
// Outside CI a missing reader is left out, with one logged line saying how
// to install it; under CI (CI set) it fails the test. MLX is never
// required.
package consumers

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Reading is one reader's reading of one file.
type Reading struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Crash says how the reader's process ended on the file ("signal:
	// segmentation fault", "hang"): a crash is neither a reading nor a
	// refusal.
	Crash    string            `json:"crash,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"` // key (hex of its bytes) -> "TYPE VALUE"
	Tensors  []Tensor          `json:"tensors,omitempty"`
}

// Tensor is one tensor as a reader reads it. Offset, Size and SHA256 are
// empty where a reader does not expose them.
type Tensor struct {
	NameHex string  `json:"name_hex"` // the name's bytes, in hex
	DType   string  `json:"dtype"`    // safetensors spelling ("F32", ">F32" big-endian) or "ggml:N"
	Shape   []int64 `json:"shape"`    // row-major; GGUF: ggml's ne order
	Offset  *int64  `json:"offset,omitempty"`
	Size    *int64  `json:"size,omitempty"`
	SHA256  string  `json:"sha256,omitempty"`
}

// Name is the tensor's name.
func (t Tensor) Name() string {
	b, _ := hex.DecodeString(t.NameHex)
	return string(b)
}

// Outcome is what a reader did with a file: "reads", "refuses", or how it
// crashed.
func (r Reading) Outcome() string {
	switch {
	case r.Crash != "":
		return "crashes"
	case r.OK:
		return "reads"
	}
	return "refuses"
}

// Normalise sorts the tensors by name and fills each tensor's digest from
// path where the reader gave an offset and size but no digest, so that
// the digest is of the bytes the reader would read.
func (r *Reading) Normalise(path string, ggufShapes bool) {
	slices.SortStableFunc(r.Tensors, func(a, b Tensor) int { return strings.Compare(a.NameHex, b.NameHex) })
	for i := range r.Tensors {
		t := &r.Tensors[i]
		if ggufShapes {
			// ggml pads ne to four dimensions with 1s, and so cannot tell
			// [8] from [8, 1]: compare without trailing 1s.
			for len(t.Shape) > 0 && t.Shape[len(t.Shape)-1] == 1 {
				t.Shape = t.Shape[:len(t.Shape)-1]
			}
		}
		if t.SHA256 == "" && t.Offset != nil && t.Size != nil {
			t.SHA256 = digestRegion(path, *t.Offset, *t.Size)
		}
	}
}

func digestRegion(path string, off, size int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(f, off, size))
	if err != nil || n != size {
		return fmt.Sprintf("short: %d of %d bytes", n, size)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Reader is a real consumer run as a process.
type Reader struct {
	Name    string
	argv    []string
	env     []string
	perFile bool // one process per file (MLX: a crash must not lose the others)
	timeout time.Duration
	proc    *process
}

type process struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *strings.Builder
}

// Read returns the reader's reading of path.
func (r *Reader) Read(path string) Reading {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Reading{Crash: err.Error()}
	}
	if r.perFile {
		defer r.Close()
	}
	if r.proc == nil {
		if err := r.start(); err != nil {
			return Reading{Crash: "cannot start: " + err.Error()}
		}
	}
	p := r.proc
	if _, err := io.WriteString(p.stdin, abs+"\n"); err != nil {
		return r.died("write: " + err.Error())
	}
	if r.perFile {
		p.stdin.Close()
	}
	select {
	case line, ok := <-p.lines:
		if !ok {
			return r.died("")
		}
		var out Reading
		if err := json.Unmarshal([]byte(line), &out); err != nil {
			return r.died(fmt.Sprintf("unreadable output %.200q", line))
		}
		return out
	case <-time.After(r.timeout):
		p.cmd.Process.Kill()
		r.died("")
		return Reading{Crash: "hang (no answer in " + r.timeout.String() + ")"}
	}
}

// died reaps the process and says how it ended.
func (r *Reader) died(why string) Reading {
	p := r.proc
	r.proc = nil
	p.stdin.Close()
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if why == "" && errors.As(err, &ee) {
		why = ee.ProcessState.String()
	}
	if why == "" {
		why = "exited without an answer"
	}
	if s := strings.TrimSpace(p.stderr.String()); s != "" {
		why += ": " + lastLine(s)
	}
	return Reading{Crash: why}
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func (r *Reader) start() error {
	cmd := exec.Command(r.argv[0], r.argv[1:]...)
	cmd.Env = append(os.Environ(), r.env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	if err := cmd.Start(); err != nil {
		return err
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 256<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	r.proc = &process{cmd: cmd, stdin: stdin, lines: lines, stderr: &stderr}
	return nil
}

// Close ends the reader's process.
func (r *Reader) Close() {
	if r.proc == nil {
		return
	}
	p := r.proc
	r.proc = nil
	p.stdin.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		l.n -= len(q)
		l.w.Write(q)
	}
	return len(p), nil
}

// missing skips the test (fails it under CI) because a reader is not
// installed; how says in one line how to install it.
func missing(t testing.TB, name, why, how string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("reader %s missing under CI: %s (install: %s)", name, why, how)
	}
	t.Logf("reader %s skipped: %s; install: %s", name, why, how)
}

// readersDir is the folder of the reader scripts, beside this file.
func readersDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "readers")
}

// NodeModules is where the npm readers are installed: $MODELGATE_NODE_MODULES,
// or the cache folder .ci/run installs readers/package.json into.
func NodeModules() string {
	if d := os.Getenv("MODELGATE_NODE_MODULES"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "modelgate-consumers", "node_modules")
}

const npmHow = "npm ci --ignore-scripts --prefix ~/.cache/modelgate-consumers (after copying internal/consumers/readers/package*.json there), or set MODELGATE_NODE_MODULES"

// GGML returns ggml's GGUF reader, the C harness readers/ggml.c built
// against the prebuilt libggml-base.so, or nil (and a skip line) when
// the library or gcc is missing.
func GGML(t testing.TB) *Reader {
	t.Helper()
	lib := filepath.Join(NodeModules(), "@node-llama-cpp", "linux-x64", "bins", "linux-x64")
	if _, err := os.Stat(filepath.Join(lib, "libggml-base.so")); err != nil {
		missing(t, "ggml", "no libggml-base.so", npmHow)
		return nil
	}
	bin := filepath.Join(t.TempDir(), "ggml-reader")
	out, err := exec.Command("gcc", "-O1", "-o", bin, filepath.Join(readersDir(), "ggml.c"),
		"-L", lib, "-l:libggml-base.so", "-Wl,-rpath,"+lib).CombinedOutput()
	if err != nil {
		missing(t, "ggml", fmt.Sprintf("gcc: %v: %s", err, out), "apt-get install gcc")
		return nil
	}
	return register(t, &Reader{Name: "ggml", argv: []string{bin}, timeout: 20 * time.Second})
}

// HFGGUF returns @huggingface/gguf on node, or nil.
func HFGGUF(t testing.TB) *Reader {
	t.Helper()
	if _, err := os.Stat(filepath.Join(NodeModules(), "@huggingface", "gguf")); err != nil {
		missing(t, "hf-gguf", "no @huggingface/gguf", npmHow)
		return nil
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "hf-gguf", "no node", "apt-get install nodejs")
		return nil
	}
	return register(t, &Reader{Name: "hf-gguf", argv: []string{"node", filepath.Join(readersDir(), "hfgguf.cjs")},
		env: []string{"MODELGATE_NODE_MODULES=" + NodeModules()}, timeout: 20 * time.Second})
}

// Python is Debian's interpreter, which has the packaged numpy.
const Python = "/usr/bin/python3"

// NumPy returns numpy.load through Debian's Python, or nil.
func NumPy(t testing.TB) *Reader {
	t.Helper()
	if err := exec.Command(Python, "-c", "import numpy").Run(); err != nil {
		missing(t, "numpy", Python+" cannot import numpy", "apt-get install python3-numpy")
		return nil
	}
	return register(t, &Reader{Name: "numpy", argv: []string{Python, filepath.Join(readersDir(), "numpy_reader.py")}, timeout: 60 * time.Second})
}

// MLX returns the MLX loader MODELGATE_MLX_LOADER names (built from
// readers/mlx_loader.cpp as the README says), one process per file, or nil.
// It is never required: CI cannot build MLX.
func MLX(t testing.TB) *Reader {
	t.Helper()
	bin := os.Getenv("MODELGATE_MLX_LOADER")
	if bin == "" {
		t.Logf("reader mlx skipped: MODELGATE_MLX_LOADER is not set; build it as README's \"Real consumers\" section says")
		return nil
	}
	return register(t, &Reader{Name: "mlx", argv: []string{bin}, perFile: true, timeout: 60 * time.Second})
}

func register(t testing.TB, r *Reader) *Reader {
	t.Cleanup(r.Close)
	return r
}

// PyReader returns readers/py_reader.py KIND through Debian's Python: kind
// is onnx, h5py or sentencepiece, each the module it imports. Nil when the
// module is missing.
func PyReader(t testing.TB, kind string) *Reader {
	t.Helper()
	if err := exec.Command(Python, "-c", "import "+kind).Run(); err != nil {
		missing(t, kind, Python+" cannot import "+kind, "apt-get install python3-"+kind)
		return nil
	}
	return register(t, &Reader{Name: kind, argv: []string{Python, filepath.Join(readersDir(), "py_reader.py"), kind}, timeout: 60 * time.Second})
}

// ORT returns onnxruntime-node's InferenceSession.create, or nil.
func ORT(t testing.TB) *Reader {
	t.Helper()
	if _, err := os.Stat(filepath.Join(NodeModules(), "onnxruntime-node")); err != nil {
		missing(t, "onnxruntime-node", "no onnxruntime-node", npmHow)
		return nil
	}
	return register(t, &Reader{Name: "onnxruntime-node", argv: []string{"node", filepath.Join(readersDir(), "ort.cjs")},
		env: []string{"MODELGATE_NODE_MODULES=" + NodeModules()}, timeout: 60 * time.Second})
}

// HFJinja returns @huggingface/jinja rendering chat templates, or nil.
func HFJinja(t testing.TB) *Reader {
	t.Helper()
	if _, err := os.Stat(filepath.Join(NodeModules(), "@huggingface", "jinja")); err != nil {
		missing(t, "hf-jinja", "no @huggingface/jinja", npmHow)
		return nil
	}
	return register(t, &Reader{Name: "hf-jinja", argv: []string{"node", filepath.Join(readersDir(), "jinja.cjs")},
		env: []string{"MODELGATE_NODE_MODULES=" + NodeModules()}, timeout: 60 * time.Second})
}
