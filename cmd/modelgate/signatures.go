//go:build !modelgate_lean

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify/signature"
)

// This file and the commands that take signer flags (verify, convert,
// sign, run) make the full program; the lean build (lean.go) leaves them
// out, and with them the Sigstore stack and its start-up cost.

func start(args []string) int {
	// Set by a lean program handing this invocation over (lean.go); not
	// for the programs this one starts (run's consumer may call modelgate).
	os.Unsetenv(handedOver)
	return run(args, os.Stdout, os.Stderr)
}

func (c *cli) commands() []*cobra.Command {
	return []*cobra.Command{c.newInspect(), c.newScan(), c.newHash(), c.newVerify(), c.newConvert(), c.newSign(), c.newRun(), c.newSandboxExec(), c.newVersion()}
}

// verifier builds the signature verifier the flags describe (nil when
// they name no signer).
func (s *sigFlags) verifier() (sigVerifier, error) {
	if !s.set() {
		if s.issuer != "" || s.trustedRoot != "" {
			return nil, usageError{fmt.Errorf("name who may sign: --identity or --identity-regexp with --issuer, --key, or --ca")}
		}
		return nil, nil
	}
	var opts []signature.Option
	if s.identity != "" || s.identityRegexp != "" {
		if s.issuer == "" || (s.identity != "" && s.identityRegexp != "") {
			return nil, usageError{fmt.Errorf("give --issuer and one of --identity and --identity-regexp")}
		}
		if s.trustedRoot == "" {
			opts = append(opts, signature.WithPublicGoodInstance())
		}
		opts = append(opts, signature.WithIdentity(s.issuer, s.identity, s.identityRegexp))
	}
	if s.trustedRoot != "" {
		opts = append(opts, signature.WithTrustedRootFile(s.trustedRoot))
	}
	for _, k := range s.keys {
		if err := checkPublicKeyFile(k); err != nil {
			return nil, err
		}
		opts = append(opts, signature.WithPublicKeyFile(k))
	}
	for _, c := range s.cas {
		opts = append(opts, signature.WithCAFile(c))
	}
	if s.bundle != "" {
		opts = append(opts, signature.WithBundleFile(s.bundle))
	}
	// As the policy's signatures.ignore_paths: the signature check leaves
	// them out too (a signed file so named is missing, as model_signing
	// finds it).
	opts = append(opts, signature.WithIgnorePaths(s.ignorePaths...))
	v, err := signature.NewVerifier(opts...)
	switch {
	case err != nil && (formats.KindOf(err) != formats.KindIO || errors.Is(err, fs.ErrNotExist)):
		return nil, usageError{err} // a key, CA or root that does not read: the flags are wrong
	case err != nil:
		return nil, err
	}
	return v, nil
}

// checkPublicKeyFile refuses, as a usage error, a --key that is missing
// or holds a private key: the most common mistake with key pairs.
func checkPublicKeyFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return usageError{fmt.Errorf("--key: %w", err)}
	}
	if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		return usageError{fmt.Errorf("--key %s holds a private key; give the public key (openssl pkey -in %s -pubout)", path, path)}
	}
	return nil
}

// signatureHint says what to do about a signature refusal ("" for any
// other error).
func signatureHint(err error) string {
	var ns *signature.NoSignerError
	switch {
	case errors.Is(err, signature.ErrNoTrustedRoot):
		return "give a trusted_root.json with --trusted-root (offline), or let modelgate fetch the public-good root"
	case errors.As(err, &ns) && ns.Signer == "key":
		return "allow the signing key with --key PUBLIC.pem"
	case errors.As(err, &ns) && ns.Signer == "ML-DSA key":
		return "allow the signing key with --key, giving the raw ML-DSA public key file model_signing wrote"
	case errors.As(err, &ns) && ns.Signer == "identity":
		return "allow the signer with --identity (or --identity-regexp) and --issuer"
	case errors.As(err, &ns) && ns.Signer == "CA":
		return "allow the certificate chain's CA with --ca CA.pem"
	}
	return ""
}
