package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/safetext"
	"github.com/modelgate/modelgate/verify"
)

func (c *cli) newHash() *cobra.Command {
	var algorithm, revision string
	cmd := &cobra.Command{
		Use:   "hash [--algorithm sha256|blake3] [--json] PATH...",
		Short: "Print SHA-256 or BLAKE3 digests exactly as sha256sum or b3sum does (directories expanded, in parallel)",
		Long: `hash prints one line per file, byte for byte as GNU sha256sum prints it
(b3sum with --algorithm blake3), so that "sha256sum -c" ("b3sum -c")
accepts the output. A directory is expanded to every file of the model, as
every command reads a model (README, "What a model is"): sorted by path,
top-level .git, .hg and .svn left out, links refused except a Hugging Face
cache snapshot's; a cache repository folder is its snapshot (--revision). Files are hashed
in parallel, one per core; BLAKE3 also splits each file across the cores,
reading it in 512 KiB pieces (memory stays flat whatever the file's size).`,
		Example: `  modelgate hash model.safetensors > SHA256SUMS && sha256sum -c SHA256SUMS
  modelgate hash --algorithm blake3 ./model-dir > B3SUMS && modelgate verify --blake3-file B3SUMS ./model-dir
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
			digests, err := c.hashArgs(cmd.Context(), args, alg, revision)
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
	cmd.Flags().StringVar(&revision, "revision", "", revisionUsage)
	return cmd
}

// revisionUsage is the --revision flag's help, the same in every command.
const revisionUsage = "in a Hugging Face cache repository folder (models--ORG--NAME), the snapshot of ref or commit `REV` (default main)"

// hashArgs hashes each argument as its own model, listed as every command
// lists a model (verify.ListModel): a file as given, a directory (or cache
// snapshot or repository folder) as each of its files, named below the
// model directory, in the order given.
func (c *cli) hashArgs(ctx context.Context, args []string, alg verify.Algorithm, revision string) ([]verify.FileDigest, error) {
	var models []*verify.ModelDigests
	var total int64
	for _, a := range args {
		md, err := verify.ListModelRevision(a, revision)
		if err != nil {
			return nil, err
		}
		for i := range md.Files {
			total += md.Files[i].Size
			if md.Single {
				md.Files[i].Name = a
			} else {
				md.Files[i].Name = filepath.Join(md.Root, filepath.FromSlash(md.Files[i].Name))
			}
		}
		models = append(models, md)
	}
	bar := c.progress(total, "hashing")
	defer bar.done()
	ctx = verify.ContextWithProgress(ctx, bar.add)
	if err := verify.SumModels(ctx, alg, models...); err != nil {
		return nil, err
	}
	var out []verify.FileDigest
	for _, md := range models {
		out = append(out, md.Files...)
	}
	return out, nil
}
