//go:build !modelgate_lean

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
	"github.com/modelgate/modelgate/verify/signature"
)

func (c *cli) newSign() *cobra.Command {
	var key, out, hash, cert, revision string
	var shardSize int64
	var ignore, chain []string
	var force bool
	cmd := &cobra.Command{
		Use:   "sign --key KEY [--cert PEM [--chain PEM]] [--hash sha256|blake2|blake3] [--shard-size N] [--ignore-paths a,b] [--output FILE] PATH",
		Short: "Sign a model (file or directory) with a local key, writing an OpenSSF Model Signing bundle",
		Long: `sign writes an OpenSSF Model Signing v1.0 bundle, as model_signing's key
method writes it: a DSSE envelope over an in-toto statement that lists the
digest of every file of the model (the bundle and a top-level .git, .hg
and .svn left out, and recorded in ignore_paths):
SHA-256 by default, BLAKE2b with --hash blake2, BLAKE3 with --hash blake3
(each file hashed on every core; see the README on what that costs in
compatibility), or SHA-256 or BLAKE2b of shards of --shard-size bytes
(model_signing's "shards" serialization, hashed in parallel; its default
size is 1000000000; with blake3, files are written, as model_signing does).
--ignore-paths leaves paths out whatever they hold (a verifier refuses a
model whose weights or code are left out).
With --cert (and --chain), the bundle carries the key's certificate and
its chain instead of naming the key: model_signing's certificate method,
verified with "modelgate verify --ca ROOT".
The bundle goes to model.sig inside a model directory, or FILE.sig beside a
single file, unless --output names it. Keys: PEM ECDSA (P-256/384/521),
Ed25519 or RSA, unencrypted, or a raw ML-DSA-44/65/87 private key as
model_signing's ML-DSA method stores it (post-quantum; the bundle names
the key VARIANT:sha256). Verify with "modelgate verify --key PUB".`,
		Example: `  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt > release.key
  openssl ec -in release.key -pubout > release.pub
  modelgate sign --key release.key ./model-dir && modelgate verify --key release.pub ./model-dir
  modelgate sign key ./model-dir --private-key key.priv --signature model.sig   # model_signing's spelling`,
		Args: modelArg("key", "certificate"),
		RunE: func(cmd *cobra.Command, args []string) error {
			args = []string{modelPath(args)} // "sign key MODEL", as model_signing writes it
			if key == "" {
				return usageError{fmt.Errorf("--key is required")}
			}
			if len(chain) > 0 && cert == "" {
				return usageError{fmt.Errorf("--chain needs --cert, the signing certificate")}
			}
			signer, err := signature.LoadPrivateKeyFile(key)
			if err != nil {
				return err
			}
			opts := signature.SignOptions{ShardSize: shardSize, IgnorePaths: ignore}
			if cert != "" {
				certs, err := signature.LoadCertificatesFile(cert)
				if err != nil {
					return usageError{fmt.Errorf("--cert: %w", err)}
				}
				opts.Certificate, opts.Chain = certs[0], certs[1:]
				for _, p := range chain {
					cs, err := signature.LoadCertificatesFile(p)
					if err != nil {
						return usageError{fmt.Errorf("--chain: %w", err)}
					}
					opts.Chain = append(opts.Chain, cs...)
				}
			}
			alg, err := verify.ParseAlgorithm(hash)
			if err != nil {
				return usageError{fmt.Errorf("--hash %q: choose sha256, blake2 or blake3", hash)}
			}
			if shardSize < 0 {
				return usageError{fmt.Errorf("--shard-size needs a positive size")}
			}
			opts.Hash, opts.Revision = alg, revision
			if out == "" {
				if out, err = defaultBundle(args[0], revision); err != nil {
					return err
				}
			}
			// A bundle written inside the model is no part of it: SignModel
			// leaves it out and records it in ignore_paths, as model_signing's
			// CLI adds its --signature to the ignore paths.
			opts.Bundle = out
			ctx, done := c.progressFor(cmd.Context(), args[0], revision, "hashing to sign")
			b, err := signature.SignModel(ctx, args[0], signer, opts)
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
	fl := cmd.Flags()
	fl.StringVar(&key, "key", "", "PEM private key, or raw ML-DSA private key, `FILE`")
	fl.StringVar(&out, "output", "", "write the bundle to `FILE`")
	fl.StringVar(&cert, "cert", "", "the key's PEM signing certificate `FILE` (model_signing's certificate method)")
	listVar(fl, &chain, "PEM certificates `FILE` between --cert and its root, root optional (repeatable)", "chain", "certificate-chain")
	listVar(fl, &ignore, "leave `PATHS` out of the manifest", "ignore-paths")
	fl.StringVar(&hash, "hash", "sha256", "hash files with `ALGORITHM`: sha256, blake2 or blake3")
	fl.Int64Var(&shardSize, "shard-size", 0, "hash files in shards of `N` bytes (model_signing's shards serialization)")
	// model_signing's names (also with underscores, as its README writes them).
	fl.StringVar(&key, "private-key", "", "the same as --key (model_signing's name)")
	fl.StringVar(&out, "signature", "", "the same as --output (model_signing's name)")
	fl.StringVar(&cert, "signing-certificate", "", "the same as --cert (model_signing's name)")
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
