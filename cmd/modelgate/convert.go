//go:build !modelgate_lean

package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/safetext"
	"github.com/modelgate/modelgate/internal/umask"
	"github.com/modelgate/modelgate/loader"
)

func (c *cli) newConvert() *cobra.Command {
	var lf loadFlags
	var to string
	var force bool
	cmd := &cobra.Command{
		Use:   "convert --to safetensors [--profile mlx] [--policy FILE] IN OUT",
		Short: "Rewrite a verified model (safetensors, npy, npz, GGUF; file or directory) as one canonical safetensors file",
		Long: `convert verifies IN as verify does (and refuses what verify refuses, a model
with nothing to verify it against included) and writes what was verified to OUT as
one canonical safetensors file: tensors in the reference writer's order, an
8-byte aligned header, little-endian C-order data. OUT is written to a
temporary file beside it and renamed, and is never overwritten without
--force. GGUF tensors keep their bytes, in safetensors' dimension order;
quantized ones are refused, except under --profile mlx, where Q4_0, Q4_1
and Q8_0 tensors become the arrays mx.load makes of them (NAME as packed
uint32, PREFIX.scales and PREFIX.biases as float16).`,
		Example: `  modelgate hash weights.npz > weights.sums   # where weights.npz is trusted
  modelgate convert --to safetensors --profile mlx --sha256-file weights.sums weights.npz model.safetensors`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usageError{fmt.Errorf("--to is required: --to safetensors")}
			}
			if to != "safetensors" {
				return usageError{fmt.Errorf("--to %q: the only target is safetensors", to)}
			}
			ctx, done := c.progressFor(cmd.Context(), args[0], lf.revision, "verifying")
			m, err := lf.openVerified(ctx, args[0])
			done()
			if err != nil {
				return err
			}
			defer m.Close()
			if err := writeAtomically(args[1], force, m); err != nil {
				return err
			}
			if c.json {
				return c.emit(struct {
					In      string `json:"in"`
					Out     string `json:"out"`
					Tensors int    `json:"tensors"`
				}{args[0], args[1], len(m.Tensors)})
			}
			fmt.Fprintf(c.stdout, "%s: %d tensors written to %s\n", safetext.Escape(args[0]), len(m.Tensors), safetext.Escape(args[1]))
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "output format: safetensors")
	cmd.Flags().BoolVar(&force, "force", false, "replace OUT if it exists")
	lf.register(cmd, true)
	return cmd
}

// writeAtomically writes the model to a new temporary file beside out and
// renames it into place, refusing to replace out unless force.
func writeAtomically(out string, force bool, m *loader.Model) error {
	ioErr := func(err error) error { return formats.WithPath(formats.IOError(formats.NoOffset, err), out) }
	if _, err := os.Lstat(out); err == nil && !force {
		return formats.WithPath(formats.Errorf(formats.KindIO, formats.NoOffset, "exists; use --force to replace it"), out)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".modelgate-*.safetensors")
	if err != nil {
		return ioErr(err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o666 &^ umask.Get()); err != nil { // as any file the user creates, not CreateTemp's 0600
		tmp.Close()
		return ioErr(err)
	}
	if err := m.WriteSafetensors(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return ioErr(err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return ioErr(err)
	}
	return nil
}
