//go:build !modelgate_lean

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkStartup times what a CI step that runs modelgate hundreds of
// times pays per run: `modelgate version` and `modelgate hash` of a small
// file, by the lean program (lean.go, with modelgate-full beside it, as a
// release installs them) and by the full one, each against a Go hello
// world built the same way (as scripts/release.sh builds: CGO_ENABLED=0,
// -trimpath, -ldflags "-s -w"), run alternately so that a
// loaded machine slows both alike. It reports each command's time, the
// hello world's, and their ratio (x-hello; the target is 2 for the lean
// program). Every package a binary links runs its init first:
// GODEBUG=inittrace=1 modelgate version lists them.
func BenchmarkStartup(b *testing.B) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		b.Skip("no go command on PATH")
	}
	dir := b.TempDir()
	lean, full := buildPair(b, dir)
	hw := filepath.Join(dir, "hello")
	src := filepath.Join(dir, "hellosrc")
	for name, text := range map[string]string{
		"go.mod":  "module hello\n\ngo 1.21\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	} {
		if err := os.MkdirAll(src, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	build := exec.Command(gobin, append(slices.Clone(releaseBuild), "-o", hw, ".")...)
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build hello: %v\n%s", err, out)
	}
	small := filepath.Join(dir, "small.bin")
	if err := os.WriteFile(small, []byte("a small file\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, argv ...string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", argv, err, out)
		}
		return time.Since(start)
	}
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"lean/version", []string{lean, "version"}},
		{"lean/hash", []string{lean, "hash", small}},
		{"full/version", []string{full, "version"}},
		{"full/hash", []string{full, "hash", small}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var hello, cmd time.Duration
			for b.Loop() {
				hello += run(b, hw)
				cmd += run(b, c.argv...)
			}
			n := float64(b.N)
			b.ReportMetric(float64(cmd.Nanoseconds())/n, "cmd-ns")
			b.ReportMetric(float64(hello.Nanoseconds())/n, "hello-ns")
			b.ReportMetric(float64(cmd)/float64(hello), "x-hello")
		})
	}
}
