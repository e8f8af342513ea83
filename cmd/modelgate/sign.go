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

func (c *cli) newSign() *cobra.Command {
	var key, out string
	var ignore []string
	var force bool
	cmd := &cobra.Command{
		Use:   "sign --key KEY [--ignore-paths a,b] [--output FILE] PATH",
		Short: "Sign a model (file or directory) with a local key, writing an OpenSSF Model Signing bundle",
		Long: `sign writes an OpenSSF Model Signing v1.0 bundle, as model_signing's key
method writes it: a DSSE envelope over an in-toto statement that lists the
SHA-256 of every file of the model (model.sig and git metadata left out).
The bundle goes to model.sig inside a model directory, or FILE.sig beside a
single file, unless --output names it. Keys: PEM ECDSA (P-256/384/521),
Ed25519 or RSA, unencrypted. Verify with "modelgate verify --key PUB".`,
		Example: `  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt > release.key
  openssl ec -in release.key -pubout > release.pub
  modelgate sign --key release.key ./model-dir && modelgate verify --key release.pub ./model-dir`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return usageError{fmt.Errorf("--key is required")}
			}
			signer, err := verify.LoadPrivateKeyFile(key)
			if err != nil {
				return err
			}
			ctx, done := c.progressFor(cmd.Context(), args[0], "hashing to sign")
			b, err := verify.SignModel(ctx, args[0], signer, ignore)
			done()
			if err != nil {
				return err
			}
			if out == "" {
				out = args[0] + ".sig"
				if st, err := os.Stat(args[0]); err == nil && st.IsDir() {
					out = filepath.Join(args[0], "model.sig")
				}
			}
			if _, err := os.Lstat(out); err == nil && !force {
				return formats.WithPath(formats.Errorf(formats.KindIO, formats.NoOffset, "exists; use --force to replace it"), out)
			}
			if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
				return formats.WithPath(formats.IOError(formats.NoOffset, err), out)
			}
			if c.json {
				return c.emit(struct {
					Bundle string `json:"bundle"`
				}{out})
			}
			fmt.Fprintf(c.stdout, "%s: signed, bundle written to %s\n", safetext.Escape(args[0]), safetext.Escape(out))
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "PEM private key `FILE`")
	cmd.Flags().StringVar(&out, "output", "", "write the bundle to `FILE`")
	cmd.Flags().StringSliceVar(&ignore, "ignore-paths", nil, "leave `PATHS` out of the manifest")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing bundle")
	return cmd
}
