package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/modeltree"
	"github.com/modelgate/modelgate/internal/safetext"
	"github.com/modelgate/modelgate/verify"
)

func (c *cli) newSign() *cobra.Command {
	var key, out, hash, revision string
	var shardSize int64
	var ignore []string
	var force bool
	cmd := &cobra.Command{
		Use:   "sign --key KEY [--hash sha256|blake3] [--shard-size N] [--ignore-paths a,b] [--output FILE] PATH",
		Short: "Sign a model (file or directory) with a local key, writing an OpenSSF Model Signing bundle",
		Long: `sign writes an OpenSSF Model Signing v1.0 bundle, as model_signing's key
method writes it: a DSSE envelope over an in-toto statement that lists the
digest of every file of the model (the bundle and top-level .git, .hg
and .svn left out, and recorded in ignore_paths):
SHA-256 by default, BLAKE3 with --hash blake3 (each file hashed on every
core; see the README on what that costs in compatibility), or SHA-256 of
shards of --shard-size bytes (model_signing's "shards" serialization,
hashed in parallel; its default size is 1000000000).
The bundle goes to model.sig inside a model directory, or FILE.sig beside a
single file, unless --output names it. Keys: PEM ECDSA (P-256/384/521),
Ed25519 or RSA, unencrypted, or a raw ML-DSA-44/65/87 private key as
model_signing's ML-DSA method stores it (post-quantum; the bundle names
the key VARIANT:sha256). Verify with "modelgate verify --key PUB".`,
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
			ctx, done := c.progressFor(cmd.Context(), args[0], revision, "hashing to sign")
			alg, err := verify.ParseAlgorithm(hash)
			if err != nil || alg == verify.BLAKE2b {
				return usageError{fmt.Errorf("--hash %q: choose sha256 or blake3", hash)}
			}
			if shardSize < 0 || shardSize > 0 && alg != verify.SHA256 {
				return usageError{fmt.Errorf("--shard-size needs a positive size and --hash sha256 (blake3 splits each file across the cores already)")}
			}
			if out == "" {
				out, err = defaultBundle(args[0], revision)
				if err != nil {
					return err
				}
			}
			b, err := verify.SignModel(ctx, args[0], signer, verify.SignOptions{Hash: alg, ShardSize: shardSize, IgnorePaths: ignore, Bundle: out, Revision: revision})
			done()
			if err != nil {
				return err
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
	cmd.Flags().StringVar(&key, "key", "", "PEM private key, or raw ML-DSA private key, `FILE`")
	cmd.Flags().StringVar(&out, "output", "", "write the bundle to `FILE`")
	cmd.Flags().StringSliceVar(&ignore, "ignore-paths", nil, "leave `PATHS` out of the manifest")
	cmd.Flags().StringVar(&hash, "hash", "sha256", "hash files with `ALGORITHM`: sha256 or blake3")
	cmd.Flags().Int64Var(&shardSize, "shard-size", 0, "hash files in shards of `N` bytes (sha256; model_signing's shards serialization)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing bundle")
	cmd.Flags().StringVar(&revision, "revision", "", revisionUsage)
	return cmd
}

// defaultBundle is where verify looks for a model's bundle: model.sig in
// the model directory (a cache repository folder's snapshot), FILE.sig
// beside a file.
func defaultBundle(model, revision string) (string, error) {
	tree, err := modeltree.List(model, modeltree.Options{Revision: revision})
	if err != nil {
		return "", err
	}
	if tree.Single != "" {
		return model + ".sig", nil
	}
	return filepath.Join(tree.Dir, "model.sig"), nil
}
