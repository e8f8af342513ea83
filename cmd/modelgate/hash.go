package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/safetext"
	"github.com/modelgate/modelgate/verify"
)

func (c *cli) newHash() *cobra.Command {
	var algorithm string
	cmd := &cobra.Command{
		Use:   "hash [--algorithm sha256|blake3] [--json] PATH...",
		Short: "Print SHA-256 or BLAKE3 digests exactly as sha256sum or b3sum does (directories expanded, in parallel)",
		Long: `hash prints one line per file, byte for byte as GNU sha256sum prints it
(b3sum with --algorithm blake3), so that "sha256sum -c" ("b3sum -c")
accepts the output. A directory is expanded to every regular file below
it, sorted by path; symbolic links inside it are refused. Files are hashed
in parallel, one per core; BLAKE3 also splits each file across the cores,
reading it in 512 KiB pieces (memory stays flat whatever the file's size).`,
		Example: `  modelgate hash model.safetensors > SHA256SUMS && sha256sum -c SHA256SUMS
  modelgate hash --algorithm blake3 ./model-dir > B3SUMS && modelgate verify --sha256-file B3SUMS ./model-dir
  modelgate hash --json ./model-dir`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("hash needs at least one PATH")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			alg, err := verify.ParseAlgorithm(algorithm)
			if err != nil || alg == verify.BLAKE2b {
				return usageError{fmt.Errorf("--algorithm %q: choose sha256 or blake3", algorithm)}
			}
			paths, err := expandPaths(args)
			if err != nil {
				return err
			}
			var total int64
			for _, p := range paths {
				total += p.size
			}
			bar := c.progress(total, "hashing")
			names := make([]string, len(paths))
			for i, p := range paths {
				names[i] = p.path
			}
			digests, err := verify.HashFiles(cmd.Context(), alg, names, bar.add)
			bar.done()
			if err != nil {
				return err
			}
			if c.json {
				type file struct {
					verify.FileDigest
					NameEscaped string `json:"name_escaped,omitempty"` // when name is not UTF-8: safetext.Escape of its bytes
				}
				files := make([]file, len(digests))
				for i, d := range digests {
					files[i].FileDigest = d
					if !safetext.Valid(d.Name) {
						files[i].NameEscaped = safetext.Escape(d.Name)
					}
				}
				return c.emit(struct {
					Files []file `json:"files"`
				}{files})
			}
			for _, d := range digests {
				fmt.Fprint(c.stdout, verify.SumLine(*d.Digest(alg), d.Name))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&algorithm, "algorithm", "sha256", "`ALGORITHM`: sha256 (as sha256sum) or blake3 (as b3sum)")
	return cmd
}

type sizedPath struct {
	path string
	size int64
}

// expandPaths turns arguments into files: a file as given, a directory as
// every regular file below it in sorted order.
func expandPaths(args []string) ([]sizedPath, error) {
	var out []sizedPath
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), a)
		}
		if !st.IsDir() {
			out = append(out, sizedPath{a, st.Size()})
			continue
		}
		root, err := os.OpenRoot(a)
		if err != nil {
			return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), a)
		}
		files, err := listTree(root)
		root.Close()
		if err != nil {
			return nil, formats.WithPath(err, a)
		}
		for _, f := range files {
			out = append(out, sizedPath{filepath.Join(a, filepath.FromSlash(f.path)), f.size})
		}
	}
	return out, nil
}
