//go:build !modelgate_lean

package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/safetext"
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
		Use:   "verify [--policy FILE] [--sha256 HEX | --blake3 HEX | --sha256-file FILE | --blake3-file FILE] [--bundle FILE --identity SAN --issuer URL | --key PEM | --ca PEM] [--profile mlx] [--json] PATH",
		Short: "Check a model's digests (and policy), then parse it strictly: the CI gate for promotion",
		Long: `verify hashes each weight file of PATH (a file or a model directory), checks
the digests against --sha256, --sha256-file or the policy's digests, then
parses the very bytes it hashed: a file whose digest is approved but whose
content is hostile is still refused. Refusals: digest-mismatch (a digest is
known for that name but differs), not-allowlisted (nothing approves the
file), and the format kinds.

With --bundle, --identity/--identity-regexp and --issuer, --key or --ca
(or a policy's signatures section) the model's signature is checked too:
a Sigstore bundle over a single file, or an OpenSSF Model Signing bundle
(model.sig, as model_signing writes it) over a file or a whole directory,
recomputed from disk. Refusals: signature-invalid, identity-mismatch,
not-allowlisted, digest-mismatch. PATH may be sha256:HEX (or sha512:HEX)
to check a bundle over a bare digest.`,
		Example: `  modelgate verify --sha256 "$(cut -d' ' -f1 model.sha256)" model.safetensors
  modelgate verify --policy policy.yaml --profile mlx --json ./model-dir
  modelgate verify --key release.pub ./model-dir
  modelgate verify key ./model-dir --signature model.sig --public-key key.pub   # model_signing's spelling
  modelgate verify --bundle m.sigstore.json --trusted-root trusted_root.json \
      --identity-regexp 'https://github.com/acme/.*' --issuer https://token.actions.githubusercontent.com m.safetensors`,
		Args: modelArg(modelSigningMethods...),
		RunE: func(cmd *cobra.Command, args []string) error {
			args = []string{modelPath(args)} // "verify key MODEL", as model_signing writes it
			if alg, hexd, ok := bareDigest(args[0]); ok {
				return c.verifyDigest(&lf, alg, hexd)
			}
			m, err := c.verifyModel(cmd.Context(), &lf, args[0])
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
				} else if f.BLAKE3 != nil {
					sum = "blake3:" + f.BLAKE3.String()
				}
				fmt.Fprintf(c.stdout, "%s  %s  %s, %d bytes\n", sum, safetext.Escape(f.Name), f.Format, f.Size)
			}
			if m.Verified.Signer != "" {
				fmt.Fprintf(c.stdout, "signed by %s\n", safetext.Escape(m.Verified.Signer))
			}
			fmt.Fprintf(c.stdout, "%s: verified, %d files, %d tensors\n", safetext.Escape(args[0]), len(m.Files), len(m.Tensors))
			return nil
		},
	}
	lf.register(cmd, true)
	return cmd
}

// verifyModel opens the model as verify does and requires that something
// approved it.
func (c *cli) verifyModel(ctx context.Context, lf *loadFlags, path string) (*loader.Model, error) {
	ctx, done := c.progressFor(ctx, path, lf.revision, "verifying")
	defer done()
	return lf.openVerified(ctx, path)
}

// bareDigest parses "sha256:HEX" or "sha512:HEX".
func bareDigest(arg string) (string, []byte, bool) {
	alg, h, ok := strings.Cut(arg, ":")
	if !ok || (alg != "sha256" && alg != "sha512") {
		return "", nil, false
	}
	b, err := hex.DecodeString(h)
	return alg, b, err == nil && (len(b) == 32 || len(b) == 64)
}

// verifyDigest checks a bundle over a bare digest, as the
// sigstore-conformance client protocol does.
func (c *cli) verifyDigest(lf *loadFlags, alg string, d []byte) error {
	if lf.sig.bundle == "" {
		return usageError{fmt.Errorf("verifying a bare digest needs --bundle")}
	}
	sv, err := lf.sig.verifier()
	if err != nil {
		return err
	}
	if sv == nil {
		return usageError{fmt.Errorf("name who may sign: --identity/--issuer, --key or --ca")}
	}
	signer, err := sv.VerifyDigest(lf.sig.bundle, alg, d)
	if err != nil {
		return err
	}
	if c.json {
		return c.emit(struct {
			Digest string `json:"digest"`
			Signer string `json:"signer"`
		}{alg + ":" + hex.EncodeToString(d), signer})
	}
	fmt.Fprintf(c.stdout, "%s:%x: signed by %s\n", alg, d, signer)
	return nil
}
