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
	return &cobra.Command{
		Use:   "hash [--json] PATH...",
		Short: "Print SHA-256 digests exactly as sha256sum does (directories expanded, in parallel)",
		Long: `hash prints one line per file, byte for byte as GNU sha256sum prints it, so
that "sha256sum -c" accepts the output. A directory is expanded to every
regular file below it, sorted by path; symbolic links inside it are refused.
Files are hashed in parallel, one per core.`,
		Example: `  modelgate hash model.safetensors > SHA256SUMS && sha256sum -c SHA256SUMS
  modelgate hash --json ./model-dir`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("hash needs at least one PATH")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
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
			digests, err := verify.HashFiles(cmd.Context(), names, bar.add)
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
				fmt.Fprint(c.stdout, verify.SHA256SumLine(d.SHA256, d.Name))
			}
			return nil
		},
	}
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
