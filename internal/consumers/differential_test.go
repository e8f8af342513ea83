package consumers_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/consumers"
)

var update = flag.Bool("update", false, "rewrite testdata/readers.txt with the outcomes of this run's readers")

// goldenPath records, for every fixture, what each real reader did with
// it: "same" (read what modelgate reads, for a file modelgate accepts),
// "differs", "refuses", "crashes", or for a file modelgate refuses,
// "reads" and a letter per distinct reading when readers read it.
const goldenPath = "testdata/readers.txt"

// fixture is one line of an EXPECT file under testdata/.
type fixture struct{ format, name, want, mlx string }

func (f fixture) path() string { return filepath.Join("..", "..", "testdata", f.format, f.name) }
func (f fixture) id() string   { return f.format + "/" + filepath.ToSlash(f.name) }

func fixtures(t testing.TB) []fixture {
	expects, err := filepath.Glob(filepath.Join("..", "..", "testdata", "*", "EXPECT"))
	require.NoError(t, err)
	require.NotEmpty(t, expects)
	var out []fixture
	for _, e := range expects {
		format := filepath.Base(filepath.Dir(e))
		b, err := os.ReadFile(e)
		require.NoError(t, err)
		for _, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			f := fixture{format: format, name: filepath.FromSlash(fields[0]), want: fields[1], mlx: fields[1]}
			for _, x := range fields[2:] {
				if v, ok := strings.CutPrefix(x, "mlx="); ok {
					f.mlx = v
				}
			}
			out = append(out, f)
		}
	}
	return out
}

// group is the set of readers a fixture goes to: its format folder, or
// for testdata/content its kind's folder (content/onnx, content/spm).
func (f fixture) group() string {
	if f.format == "content" {
		first, _, _ := strings.Cut(filepath.ToSlash(f.name), "/")
		return "content/" + first
	}
	return f.format
}

// readersOf returns the real readers of a fixture group, each started once
// per test (by the parent test: a subtest's cleanup would stop it).
func readersOf(t *testing.T, group string, cache map[string]*consumers.Reader) []*consumers.Reader {
	var names []string
	switch group {
	case "gguf":
		names = []string{"ggml", "hf-gguf"}
	case "npy", "npz":
		names = []string{"numpy"}
	case "onnx", "content/onnx":
		names = []string{"onnx", "onnxruntime-node"}
	case "h5", "content/media", "content/keras":
		names = []string{"h5py"} // h5py finds a superblock at 0, 512, 1024, ...
	case "content/spm":
		names = []string{"sentencepiece"}
	}
	if strings.Contains(group, "template") || strings.Contains(group, "jinja") {
		names = []string{"jinja2", "hf-jinja"} // chat templates, wherever h24b files them
	}
	var rs []*consumers.Reader
	for _, n := range names {
		r, ok := cache[n]
		if !ok {
			switch n {
			case "ggml":
				r = consumers.GGML(t)
			case "hf-gguf":
				r = consumers.HFGGUF(t)
			case "numpy":
				r = consumers.NumPy(t)
			case "onnxruntime-node":
				r = consumers.ORT(t)
			case "hf-jinja":
				r = consumers.HFJinja(t)
			default:
				r = consumers.PyReader(t, n)
			}
			cache[n] = r
		}
		if r != nil {
			rs = append(rs, r)
		}
	}
	return rs
}

// mlxFormats are the formats MLX's C++ API reads (npz is read by the
// Python binding, through zipfile, member by member with load).
var mlxFormats = map[string]bool{"gguf": true, "npy": true, "safetensors": true}

// TestReadersAgreeWithModelgate runs every fixture of testdata/*/EXPECT
// through modelgate and through each real reader of its format present:
// a file modelgate accepts must be read by every reader exactly as
// modelgate reads it (names, dtypes, shapes, offsets, sizes, metadata,
// the bytes' digest). What the readers do with a file modelgate refuses
// (refuse it, crash on it, read it, and whether they agree among
// themselves) is checked against testdata/readers.txt, which -update
// rewrites. With MODELGATE_MLX_LOADER set, MLX's reading is held to the
// verdict under the MLX profile and to what modelgate converts for it.
func TestReadersAgreeWithModelgate(t *testing.T) {
	golden := readGolden(t)
	cache := map[string]*consumers.Reader{}
	mlx := consumers.MLX(t)
	ran := 0
	for _, f := range fixtures(t) {
		readers := readersOf(t, f.group(), cache)
		useMLX := mlx != nil && mlxFormats[f.format]
		if len(readers) == 0 && !useMLX {
			continue
		}
		ran++
		t.Run(f.id(), func(t *testing.T) {
			got := map[string]string{}
			isGGUF := f.format == "gguf"
			verdict, mine := modelgateReading(f.path())
			require.Equal(t, f.want, verdict, "modelgate's verdict is not the EXPECT line's: %s", mine.Error)
			mine.Normalise(f.path(), isGGUF)
			readings := map[string]consumers.Reading{}
			for _, r := range readers {
				rd := r.Read(f.path())
				rd.Normalise(f.path(), isGGUF)
				readings[r.Name] = rd
				t.Logf("%s: %s %s%s", r.Name, rd.Outcome(), rd.Error, rd.Crash)
				if verdict == "accept" {
					got[r.Name] = "same"
					if d := consumers.Diff(mine, rd); d != "" {
						got[r.Name] = "differs"
						t.Errorf("modelgate accepts %s, and %s reads it otherwise: %s", f.id(), r.Name, d)
					}
				}
			}
			if verdict != "accept" {
				for name, o := range groupOutcomes(readings) {
					got[name] = o
				}
			}
			if useMLX {
				mv, mr := mlxReading(f.path())
				mr.Normalise(f.path(), false)
				rd := mlx.Read(f.path())
				rd.Normalise(f.path(), false)
				t.Logf("mlx (profile verdict %s): %s %s%s", mv, rd.Outcome(), rd.Error, rd.Crash)
				if mv == "accept" {
					got["mlx"] = "same"
					if d := consumers.Diff(mr, rd); d != "" {
						got["mlx"] = "differs"
						t.Errorf("modelgate accepts %s under the MLX profile, and MLX reads it otherwise: %s", f.id(), d)
					}
				} else {
					got["mlx"] = mlxRefusedOutcome(f.path(), rd)
					if got["mlx"] == "reads-spec" {
						t.Errorf("the MLX profile refuses %s (%s), and MLX reads it as its spec says", f.id(), mr.Error)
					}
				}
			}
			checkGolden(t, golden, f.id(), got)
		})
	}
	if ran == 0 {
		t.Skip("no reader of any fixture's format is installed")
	}
	if *update {
		writeGolden(t, golden)
	}
}

// mlxRefusedOutcome says what MLX did with a file the MLX profile
// refuses: refuses, crashes, "reads-spec" (what the file holds by its
// spec: a refusal MLX does not need), "misreads", or "reads" where there is
// no profile-free reading to compare (quantized GGUF, a file modelgate
// refuses outright).
func mlxRefusedOutcome(path string, rd consumers.Reading) string {
	if rd.Outcome() != "reads" {
		return rd.Outcome()
	}
	spec, ok := specReading(path)
	switch {
	case !ok:
		return "reads"
	case consumers.Diff(spec, rd) == "":
		return "reads-spec"
	}
	return "misreads"
}

// groupOutcomes gives each reader of a refused file its outcome, and to
// each one that reads it a letter per distinct reading ("reads-a",
// "reads-b"): two letters are readers that disagree among themselves.
func groupOutcomes(readings map[string]consumers.Reading) map[string]string {
	out := map[string]string{}
	var groups []consumers.Reading
	for _, name := range slicesSortedKeys(readings) {
		rd := readings[name]
		if rd.Outcome() != "reads" {
			out[name] = rd.Outcome()
			continue
		}
		i := slices.IndexFunc(groups, func(g consumers.Reading) bool { return consumers.Diff(g, rd) == "" })
		if i < 0 {
			groups = append(groups, rd)
			i = len(groups) - 1
		}
		out[name] = fmt.Sprintf("reads-%c", 'a'+i)
	}
	return out
}

func slicesSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkGolden compares this run's outcomes with the recorded ones, reader
// by reader (a reader not run here keeps its record), and records them.
func checkGolden(t *testing.T, golden map[string]map[string]string, id string, got map[string]string) {
	t.Helper()
	rec := golden[id]
	if rec == nil {
		rec = map[string]string{}
		golden[id] = rec
	}
	for name, o := range got {
		switch want, ok := rec[name]; {
		case *update:
		case !ok:
			t.Logf("%s: %s=%s is not recorded in %s (go test -run %s -update)", id, name, o, goldenPath, t.Name())
		case want != o:
			t.Errorf("%s: %s now %s, recorded %s in %s", id, name, o, want, goldenPath)
		}
		rec[name] = o
	}
}

func readGolden(t *testing.T) map[string]map[string]string {
	out := map[string]map[string]string{}
	f, err := os.Open(goldenPath)
	if os.IsNotExist(err) {
		return out
	}
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		rec := map[string]string{}
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			require.True(t, ok, "%s: %q", goldenPath, sc.Text())
			rec[k] = v
		}
		out[fields[0]] = rec
	}
	require.NoError(t, sc.Err())
	return out
}

func writeGolden(t *testing.T, golden map[string]map[string]string) {
	var b strings.Builder
	b.WriteString("# What each real reader does with each fixture of testdata/*/EXPECT, written by\n")
	b.WriteString("# go test ./internal/consumers -run TestReadersAgreeWithModelgate -update.\n")
	b.WriteString("# same: reads what modelgate reads (modelgate accepts; under mlx=, the MLX profile);\n")
	b.WriteString("# refuses, crashes (a signal, an abort or a hang); reads-a, reads-b: reads a file\n")
	b.WriteString("# modelgate refuses, a letter per distinct reading (two letters: the readers disagree).\n")
	for _, id := range slicesSortedKeys(golden) {
		rec := golden[id]
		b.WriteString(id)
		for _, name := range slicesSortedKeys(rec) {
			fmt.Fprintf(&b, " %s=%s", name, rec[name])
		}
		b.WriteString("\n")
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(goldenPath), 0o755))
	require.NoError(t, os.WriteFile(goldenPath, []byte(b.String()), 0o644))
}
