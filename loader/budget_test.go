package loader_test

import (
	"archive/zip"
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/internal/ggufwrite"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// The cost budget (README): any single input up to the default limits is
// accepted or refused in under 2 s of CPU at under 256 MiB peak RSS.
const (
	budgetCPU = 2 * time.Second
	budgetRSS = 256 << 20
)

// TestCostBudget opens each hostile input in a child process (so that its
// peak RSS and CPU time are its own) and holds it to the budget.
func TestCostBudget(t *testing.T) {
	if p := os.Getenv("MODELGATE_BUDGET_CHILD"); p != "" {
		budgetChild(t, p, os.Getenv("MODELGATE_BUDGET_OP"))
		return
	}
	if testing.Short() {
		t.Skip("writes about 300 MB of hostile inputs")
	}
	dir := t.TempDir()
	var growth budgetGrowth
	var inputs []budgetInput
	if os.Getenv("MODELGATE_BUDGET_ROWS") != "scaled" { // scaled: only the rows of scaledInputs, to try them quickly
		inputs = budgetInputs(t, dir)
	}
	for _, in := range append(inputs, scaledInputs(t, dir)...) {
		t.Run(in.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCostBudget$")
			cmd.Env = append(os.Environ(), "MODELGATE_BUDGET_CHILD="+in.path, "MODELGATE_BUDGET_OP="+in.op,
				fmt.Sprintf("MODELGATE_BUDGET_NOFILE=%d", in.nofile), fmt.Sprintf("MODELGATE_BUDGET_NOLEASE=%t", in.noLease))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			u := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			cpu := time.Duration(u.Utime.Nano() + u.Stime.Nano())
			rss := childPeakRSS(cmd, out)
			t.Logf("%s: %v CPU, peak RSS %d MiB; %s", in.name, cpu.Round(time.Millisecond), rss>>20, strings.TrimSpace(lastLine(out)))
			assert.Less(t, cpu, (budgetCPU+time.Duration(in.units)*perUnitCPU)*raceOverhead)
			assert.Less(t, rss, int64(budgetRSS)*raceOverhead)
			assert.Contains(t, string(out), "verdict: "+in.want)
			growth.add(t, in, rss)
		})
	}
	growth.check(t)
}

// budgetChild runs one input and prints its verdict.
func budgetChild(t *testing.T, p, op string) {
	childConstraints(t)
	var err error
	switch op {
	case "policy":
		_, err = verify.LoadPolicy(p)
	case "k8s": // the k8s example's initContainer: verify against a digest, the MLX profile, map mode
		err = openAsK8s(p)
	case "scan":
		var res []loader.ScanResult
		res, err = loader.Scan(context.Background(), []string{p}, loader.ScanOptions{})
		for _, r := range res {
			if r.Verdict == loader.Refused {
				err = formats.Errorf(r.Kind, formats.NoOffset, "%s", r.Reason)
			}
		}
	case "expect":
		var bad []string
		for _, x := range readExpect(t, p) {
			got, gotMLX := expectVerdicts(filepath.Join(filepath.Dir(p), x.name))
			if got != x.want || gotMLX != x.mlx {
				bad = append(bad, fmt.Sprintf("%s: %s/%s, want %s/%s", x.name, got, gotMLX, x.want, x.mlx))
			}
		}
		if len(bad) > 0 {
			err = fmt.Errorf("verdicts differ from EXPECT: %s", strings.Join(bad, "; "))
		}
	default:
		var m *loader.Model
		if m, err = loader.Open(context.Background(), p); err == nil {
			m.Close()
		}
	}
	verdict := "accept"
	if err != nil {
		verdict = string(formats.KindOf(err))
	}
	printPeakRSS()
	fmt.Printf("verdict: %s (%v)\n", verdict, err)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "verdict:") {
			return lines[i][:min(len(lines[i]), 160)]
		}
	}
	return ""
}

// hwm finds a process's peak RSS in /proc/PID/status, and in what a
// child prints of it.
var hwm = regexp.MustCompile(`VmHWM:\s*(\d+) kB`)

// printPeakRSS prints this (child) process's peak RSS for childPeakRSS.
func printPeakRSS() {
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		if m := hwm.FindSubmatch(st); m != nil {
			fmt.Printf("VmHWM: %s kB\n", m[1])
		}
	}
}

// childPeakRSS is the peak RSS, in bytes, of a child test process that
// called printPeakRSS: its own high-water mark. ru_maxrss, the fallback,
// also counts the parent's memory the child shared until exec (os/exec
// starts children with vfork), so it grows with whatever the parent test
// binary holds.
func childPeakRSS(cmd *exec.Cmd, out []byte) int64 {
	if m := hwm.FindSubmatch(out); m != nil {
		kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
		return kb << 10
	}
	return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
}

// budgetInput is one row: a hostile input, the operation its child runs,
// and the verdict it must reach.
type budgetInput struct {
	name, path, op, want string
	nofile               uint64 // the child's RLIMIT_NOFILE, if set
	noLease              bool   // the child takes no read lease, as a user who does not own the files
	dim                  string // the attacker-controlled dimension a scaled row belongs to
	// units is the row's count along a dimension whose cost may grow
	// linearly (files): it is allowed perUnit more CPU and memory a unit.
	units int
}

// budgetInputs writes the hostile inputs of issue 18, each at the size the
// default limits still let through.
func budgetInputs(t *testing.T, dir string) []budgetInput {
	var out []budgetInput
	add := func(name, op, want string, write func(w *bufio.Writer)) string {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		f, err := os.Create(p)
		require.NoError(t, err)
		w := bufio.NewWriterSize(f, 1<<20)
		write(w)
		require.NoError(t, w.Flush())
		require.NoError(t, f.Close())
		out = append(out, budgetInput{name: name, path: p, op: op, want: want})
		return p
	}
	// st writes a safetensors file of one large header, patching its length
	// in afterwards.
	st := func(name, want string, body func(w *bufio.Writer) int) {
		p := add(name, "open", want, func(w *bufio.Writer) {
			w.Write(make([]byte, 8))
			n := body(w)
			for pad := (8 - n%8) % 8; pad > 0; pad-- {
				w.WriteByte(' ')
			}
		})
		fi, err := os.Stat(p)
		require.NoError(t, err)
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		require.NoError(t, err)
		n := uint64(fi.Size() - 8)
		_, err = f.WriteAt([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), 0, 0, 0, 0}, 0)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	st("safetensors metadata of 9.9M entries", "limit-exceeded", func(w *bufio.Writer) int {
		n, _ := w.WriteString(`{"__metadata__":{`)
		for i := 0; n < 99_000_000-20; i++ {
			k, _ := fmt.Fprintf(w, `"%x":"",`, i)
			n += k
		}
		k, _ := w.WriteString(`"end":""}}`)
		return n + k
	})
	st("safetensors of 65536 tensors with long names", "accept", func(w *bufio.Writer) int {
		n, _ := w.WriteString(`{`)
		name := strings.Repeat("n", 1400)
		for i := range formats.DefaultMaxTensors {
			sep := ","
			if i == formats.DefaultMaxTensors-1 {
				sep = ""
			}
			k, _ := fmt.Fprintf(w, `"%s%05d":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}%s`, name, i, sep)
			n += k
		}
		k, _ := w.WriteString(`}`)
		return n + k
	})
	idx := filepath.Join(dir, "index-bomb")
	require.NoError(t, os.Mkdir(idx, 0o755))
	writeFile(t, filepath.Join(idx, "model-00001-of-00001.safetensors"), stFile(t, formats.U8, "w"))
	f, err := os.Create(filepath.Join(idx, "model.safetensors.index.json"))
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(`{"metadata":{"a":[`)
	for i := 0; i < 8_000_000; i++ {
		w.WriteString(`{},`)
	}
	w.WriteString(`{}]},"weight_map":{"w":"model-00001-of-00001.safetensors"}}`)
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	out = append(out, budgetInput{name: "index metadata of 8M empty objects", path: idx, op: "open", want: "limit-exceeded"})

	npz := add("npz of 65536 empty members", "open", "accept", func(w *bufio.Writer) {
		z := zip.NewWriter(w)
		arr := npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", nil)
		for i := range formats.DefaultMaxTensors {
			fw, err := z.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("a%d.npy", i), Method: zip.Store})
			require.NoError(t, err)
			fw.Write(arr)
		}
		require.NoError(t, z.Close())
	})
	out = append(out, budgetInput{name: "scan of the same npz", path: npz, op: "scan", want: "accept"})
	add("policy of nested YAML aliases", "policy", "malformed", func(w *bufio.Writer) {
		w.WriteString("a: &a [x, x, x, x, x, x, x, x, x]\n")
		for i := 'b'; i <= 'i'; i++ {
			fmt.Fprintf(w, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
		}
		w.WriteString("version: 1\n")
	})
	add("pickle walk to its bound", "open", "pickle", func(w *bufio.Writer) {
		w.WriteString(strings.Repeat("N", 8<<20))
	})
	// 3,000 nested directories, a pickle at the bottom (issue 25, finding
	// 4): listing re-resolved each directory from the root, quadratic in
	// depth (10 s here); the walker opens each from its parent. The path
	// is longer than PATH_MAX, so it is made through handles too.
	deep := filepath.Join(dir, "deep-3000")
	require.NoError(t, os.Mkdir(deep, 0o755))
	r, err := os.OpenRoot(deep)
	require.NoError(t, err)
	for range 3000 {
		require.NoError(t, r.Mkdir("d", 0o755))
		next, err := r.OpenRoot("d")
		require.NoError(t, err)
		r.Close()
		r = next
	}
	require.NoError(t, r.WriteFile("model.pkl", testdata(t, "pickle/proto2.pkl"), 0o644))
	r.Close()
	out = append(out, budgetInput{name: "3000 nested directories with a pickle at the bottom", path: deep, op: "open", want: "pickle"})
	ggufFile := func(name, want string, s ggufwrite.File) {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		require.NoError(t, ggufwrite.WriteSparse(p, s))
		out = append(out, budgetInput{name: name, path: p, op: "open", want: want})
	}
	toks := make([]string, 1_500_000)
	for i := range toks {
		toks[i] = fmt.Sprintf("token-%07d", i)
	}
	ggufFile("gguf tokenizer of 1.5M strings", "limit-exceeded", ggufwrite.File{KVs: []ggufwrite.KV{{Key: "tokenizer.ggml.tokens", VT: gguf.Array, Elem: gguf.String, Val: toks}}})
	// Issue 25 finding 2: a 400 MiB uint8 array (the file really holds it,
	// sparsely) must be refused from its declared length, not read whole.
	arr := filepath.Join(dir, "gguf-uint8-array-of-400-MiB")
	head, _ := ggufwrite.File{KVs: []ggufwrite.KV{{Key: "blob", VT: gguf.Array, Elem: gguf.Uint8, RawLength: 400 << 20}}}.Header()
	require.NoError(t, os.WriteFile(arr, head, 0o644))
	require.NoError(t, os.Truncate(arr, int64(len(head))+400<<20))
	out = append(out, budgetInput{name: "gguf uint8 array of 400 MiB", path: arr, op: "open", want: "limit-exceeded"})
	arr64 := filepath.Join(dir, "gguf-uint64-array-of-480-MB")
	head, _ = ggufwrite.File{KVs: []ggufwrite.KV{{Key: "blob", VT: gguf.Array, Elem: gguf.Uint64, RawLength: 60_000_000}}}.Header()
	require.NoError(t, os.WriteFile(arr64, head, 0o644))
	require.NoError(t, os.Truncate(arr64, int64(len(head))+480_000_000))
	out = append(out, budgetInput{name: "scan of a gguf uint64 array of 480 MB", path: arr64, op: "scan", want: "limit-exceeded"})
	var many ggufwrite.File
	for i := range 65_536 {
		many.Tensors = append(many.Tensors, ggufwrite.Tensor{Name: fmt.Sprintf("blk.%d.%050d", i, i), Dims: []uint64{4096, 2}, Type: 1, Size: 4096 * 2 * 2, Offset: -1})
	}
	ggufFile("gguf of 65536 tensors over 1 GiB", "accept", many)
	// Every committed fixture, each EXPECT directory in one child: the
	// budget holds for the whole directory, and every verdict is checked.
	for _, e := range expectFiles(t) {
		out = append(out, budgetInput{name: "fixtures in testdata/" + filepath.Base(filepath.Dir(e)), path: e, op: "expect", want: "accept"})
	}
	return out
}
