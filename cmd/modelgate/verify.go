package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/loader"
)

// verifyResult is the JSON shape of `modelgate verify --json`.
type verifyResult struct {
	Path     string              `json:"path"`
	Files    []*loader.ModelFile `json:"files"`
	Tensors  int                 `json:"tensors"`
	Verified loader.Verified     `json:"verified"`
}

func (c *cli) newVerify() *cobra.Command {
	var lf loadFlags
	cmd := &cobra.Command{
		Use:   "verify [--policy FILE] [--sha256 HEX | --sha256-file FILE] [--profile mlx] [--json] PATH",
		Short: "Check a model's digests (and policy), then parse it strictly: the CI gate for promotion",
		Long: `verify hashes each weight file of PATH (a file or a model directory), checks
the digests against --sha256, --sha256-file or the policy's digests, then
parses the very bytes it hashed: a file whose digest is approved but whose
content is hostile is still refused. Refusals: digest-mismatch (a digest is
known for that name but differs), not-allowlisted (nothing approves the
file), and the format kinds.`,
		Example: `  modelgate verify --sha256 "$(cut -d' ' -f1 model.sha256)" model.safetensors
  modelgate verify --policy policy.yaml --profile mlx --json ./model-dir`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := lf.options(args[0])
			if err != nil {
				return err
			}
			m, err := loader.Open(cmd.Context(), args[0], opts...)
			if err != nil {
				return err
			}
			defer m.Close()
			res := verifyResult{Path: args[0], Files: m.Files, Tensors: len(m.Tensors), Verified: m.Verified}
			if c.json {
				return c.emit(res)
			}
			for _, f := range m.Files {
				sum := "-"
				if f.SHA256 != nil {
					sum = f.SHA256.String()
				}
				fmt.Fprintf(c.stdout, "%s  %s  %s, %d bytes\n", sum, f.Name, f.Format, f.Size)
			}
			fmt.Fprintf(c.stdout, "%s: verified, %d files, %d tensors\n", args[0], len(m.Files), len(m.Tensors))
			return nil
		},
	}
	lf.register(cmd, true)
	return cmd
}
