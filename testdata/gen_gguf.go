//go:build ignore

// Command gen_gguf writes the GGUF fixtures of testdata/gguf and their EXPECT
// file from internal/ggufwrite, which writes GGUF from the spec (ggml
// docs/gguf.md) independently of formats/gguf's reader. Run from the
// repository's root:
//
//	go run ./testdata/gen_gguf.go
//
// formats/gguf TestFixturesAreGenerated fails when the files here differ
// from what this writes.
package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate/internal/ggufwrite"
)

func main() {
	dir := filepath.Join("testdata", "gguf")
	var expect strings.Builder
	expect.WriteString(`# Expected verdicts for the fixtures in this directory, one line each:
#   FILE  VERDICT  [mlx=VERDICT]  # why
# Written by testdata/gen_gguf.go from internal/ggufwrite; loader TestExpectBesideTheVectors
# checks them.
`)
	for _, f := range ggufwrite.Fixtures() {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(p, f.File, 0o644); err != nil {
			log.Fatal(err)
		}
		mlx := ""
		if f.MLX != f.Want {
			mlx = "mlx=" + f.MLX
		}
		fmt.Fprintf(&expect, "%-45s %-15s %-18s # %s\n", f.Path, f.Want, mlx, f.Why)
	}
	if err := os.WriteFile(filepath.Join(dir, "EXPECT"), []byte(expect.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}
