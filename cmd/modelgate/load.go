package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/chattemplate"
	"github.com/modelgate/modelgate/internal/ociref"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// loadFlags are the flags every command that opens a model shares.
type loadFlags struct {
	policy      string
	sha256      string
	blake3      string
	sha256File  string
	blake3File  string
	profile     string
	allowRawFP8 bool
	mode        string
	root        string
	revision    string
	exclude     []string
	allowCode   bool
	templates   []string // --allow-chat-template
	sig         sigFlags
	oci         ociFlags
}

// ociFlags say how to fetch an OCI artifact.
type ociFlags struct {
	plainHTTP   bool
	platform    string
	mediaTypes  []string
	pinned      bool     // require an @sha256 pin (verify without a signature)
	policySigns bool     // the policy names signers
	signatures  []string // --oci-signatures
}

func (o *ociFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&o.plainHTTP, "plain-http", false, "reach an oci:// registry over HTTP, not HTTPS (loopback registries always are)")
	fl.StringVar(&o.platform, "platform", "", "choose an OCI index's manifest for `OS/ARCH[/VARIANT]`")
	fl.StringArrayVar(&o.mediaTypes, "media-type", nil, "accept a further OCI artifact or layer media `TYPE` (repeatable)")
}

// sigVerifier checks signatures for the loader (a model's files) and for
// loader/oci (an artifact's manifest): verify/signature's Verifier, in
// every build but the lean one (signatures.go, lean.go).
type sigVerifier interface {
	loader.SignatureVerifier
	VerifyDigest(bundlePath, algorithm string, digest []byte) (signer string, err error)
	SignsFiles(bundle []byte) bool
}

// sigFlags say whose signature to require.
type sigFlags struct {
	bundle         string
	identity       string
	identityRegexp string
	issuer         string
	keys           []string
	cas            []string
	trustedRoot    string
	ignorePaths    []string
}

func (s *sigFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&s.bundle, "bundle", "", "the Sigstore or model_signing bundle `FILE` (default: model.sig in the model directory, FILE.sig beside a file)")
	fl.StringVar(&s.identity, "identity", "", "allow the keyless signer whose certificate SAN is exactly `SAN`")
	fl.StringVar(&s.identityRegexp, "identity-regexp", "", "allow keyless signers whose SAN matches `RE` (anchored)")
	fl.StringVar(&s.issuer, "issuer", "", "the OIDC issuer `URL` of the allowed keyless signer")
	// cosign's names for the same flags.
	fl.StringVar(&s.identity, "certificate-identity", "", "the same as --identity (cosign's name)")
	fl.StringVar(&s.identityRegexp, "certificate-identity-regexp", "", "the same as --identity-regexp (cosign's name)")
	fl.StringVar(&s.issuer, "certificate-oidc-issuer", "", "the same as --issuer (cosign's name)")
	listVar(fl, &s.keys, "allow signatures by the PEM public key, or raw ML-DSA public key, in `FILE` (repeatable)", "key", "public-key")
	listVar(fl, &s.cas, "allow certificate chains to the PEM root CA in `FILE` (repeatable)", "ca", "certificate-chain")
	fl.StringVar(&s.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json `FILE` (offline); default: the public-good instance via TUF")
	listVar(fl, &s.ignorePaths, "leave `PATHS` out of the model's manifest, as model_signing does", "ignore-paths")
	// model_signing's names (also with underscores, as its README writes
	// them); --public-key and --certificate-chain are above.
	fl.StringVar(&s.bundle, "signature", "", "the same as --bundle (model_signing's name)")
	fl.StringVar(&s.issuer, "identity-provider", "", "the same as --issuer (model_signing's name)")
}

// set reports whether any signer was named.
func (s *sigFlags) set() bool {
	return s.identity != "" || s.identityRegexp != "" || len(s.keys) > 0 || len(s.cas) > 0
}

func (f *loadFlags) register(cmd *cobra.Command, digests bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.profile, "profile", "", "refuse what a runtime would misread: mlx")
	fl.BoolVar(&f.allowRawFP8, "allow-raw-fp8", false, "with --profile mlx, accept F8_E4M3/F8_E8M0, which MLX loads as raw uint8")
	fl.StringVar(&f.mode, "mode", "map", "how verified bytes are held: map, read-at or private-copy")
	fl.StringVar(&f.root, "root", "", "confine file access to `DIR` (default: the model's directory)")
	fl.StringVar(&f.revision, "revision", "", revisionUsage)
	fl.StringVar(&f.policy, "policy", "", "apply the policy in `FILE` (formats, limits, digests, signatures)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "let inert files (text, empty, tokenizers) matching `GLOB` go uncovered by digests and signatures (repeatable; never weights, code or pickles)")
	fl.BoolVar(&f.allowCode, "allow-code", false, "accept code that runs on load (*.py, auto_map) when digests or a signature cover it")
	fl.StringArrayVar(&f.templates, "allow-chat-template", nil, "approve a chat template that reaches what a sandboxed renderer forbids, by the sha256 of its text (sha256:HEX; repeatable)")
	f.oci.register(fl)
	if digests {
		fl.StringSliceVar(&f.oci.signatures, "oci-signatures", nil, "the signatures an OCI artifact needs: `manifest` (cosign over the manifest digest; the default with --key, --ca or --identity), files (model_signing over the unpacked files; a policy's signatures.oci default), or both")
	}
	if digests {
		f.sig.register(fl)
		fl.StringVar(&f.sha256, "sha256", "", "require the file's SHA-256 to be `HEX`")
		fl.StringVar(&f.blake3, "blake3", "", "require the file's BLAKE3 (as b3sum prints it) to be `HEX`")
		fl.StringVar(&f.sha256File, "sha256-file", "", "require every file to be approved by the sha256sum `FILE` (or Git LFS pointer); names are relative to FILE's directory, as sha256sum -c reads them")
		fl.StringVar(&f.blake3File, "blake3-file", "", "require every file to be approved by the b3sum `FILE`; names are relative to FILE's directory, as b3sum -c reads them")
	}
}

// open opens the model at path with the loader options the flags give.
func (f *loadFlags) open(ctx context.Context, path string) (*loader.Model, error) {
	if ociref.IsReference(path) {
		return f.openOCI(ctx, path)
	}
	opts, err := f.options(path)
	if err != nil {
		return nil, err
	}
	return loader.Open(ctx, path, opts...)
}

// openVerified opens the model at path as open does, and refuses it when
// nothing approved it: no digest allowlisted it and no signature covers it.
// verify and convert both call it, so that they refuse the same inputs.
func (f *loadFlags) openVerified(ctx context.Context, path string) (*loader.Model, error) {
	// An OCI artifact's files are approved by its manifest, so what
	// verifies one is a pinned manifest digest, a signature, or digests of
	// the caller's (openOCI).
	f.oci.pinned = !f.sig.set()
	m, err := f.open(ctx, path)
	if err != nil {
		return nil, err
	}
	if !m.Verified.Allowlisted && m.Verified.Signer == "" {
		m.Close()
		return nil, formats.WithPath(formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset,
			"nothing to verify against: give --sha256, --blake3, --sha256-file, --blake3-file, --bundle with --key, --ca or --identity and --issuer, or a --policy with digests or signatures; 'modelgate inspect' checks structure only"), path)
	}
	return m, nil
}

// options turns the flags into loader options; what they mean is the
// loader's and verify's business (verify.Policy.Checks, loader.Open).
func (f *loadFlags) options(model string) ([]loader.Option, error) {
	var opts []loader.Option
	switch f.profile {
	case "":
	case "mlx":
		opts = append(opts, loader.WithProfile(loader.ProfileMLX))
	default:
		return nil, usageError{fmt.Errorf("--profile %q: the only profile is mlx", f.profile)}
	}
	if f.allowRawFP8 {
		opts = append(opts, loader.WithRawFP8Unsafe())
	}
	mode, err := loader.ParseMode(f.mode)
	if err != nil {
		return nil, usageError{err}
	}
	opts = append(opts, loader.WithMode(mode))
	if f.root != "" {
		opts = append(opts, loader.WithRoot(f.root))
	}
	if f.revision != "" {
		opts = append(opts, loader.WithRevision(f.revision))
	}
	policySigns := false
	if f.policy != "" {
		p, err := verify.LoadPolicy(f.policy)
		if err != nil {
			return nil, usageError{fmt.Errorf("--policy: %w", err)}
		}
		policySigns = p.Signatures != nil
		f.oci.policySigns = policySigns
		opts = append(opts, loader.WithPolicy(p))
	}
	sv, err := f.sig.verifier()
	if err != nil {
		return nil, err
	}
	if sv != nil {
		opts = append(opts, loader.WithSignatureVerifier(sv))
	}
	if f.sig.bundle != "" {
		if sv == nil && !policySigns {
			return nil, usageError{fmt.Errorf("--bundle: name who may sign: --identity or --identity-regexp with --issuer, --key, --ca, or a policy's signatures")}
		}
		if fh, err := os.Open(f.sig.bundle); err != nil {
			return nil, usageError{fmt.Errorf("--bundle: %w", err)}
		} else {
			fh.Close()
		}
		opts = append(opts, loader.WithBundle(f.sig.bundle))
	}
	opts = append(opts, loader.WithExclude(f.sig.ignorePaths...), loader.WithExclude(f.exclude...))
	if f.allowCode {
		opts = append(opts, loader.WithAllowCodeUnsafe())
	}
	for _, d := range f.templates {
		if !chattemplate.ValidDigest(d) {
			return nil, usageError{fmt.Errorf("--allow-chat-template: %q is not sha256: and 64 lowercase hex digits", d)}
		}
	}
	if len(f.templates) > 0 {
		opts = append(opts, loader.WithChatTemplates(f.templates...))
	}
	digests, err := f.digests(model)
	return append(opts, digests...), err
}

// digests turns --sha256, --blake3, --sha256-file and --blake3-file into
// options. A checksum file is read by verify.ReadDigestFile, as the
// policy's digest_files are: names relative to the file's directory, the
// algorithm the flag names.
func (f *loadFlags) digests(model string) ([]loader.Option, error) {
	given := 0
	for _, v := range []string{f.sha256, f.blake3, f.sha256File, f.blake3File} {
		if v != "" {
			given++
		}
	}
	switch {
	case given > 1:
		return nil, usageError{fmt.Errorf("give one of --sha256, --blake3, --sha256-file and --blake3-file")}
	case f.sha256 != "" || f.blake3 != "":
		alg, hexd := verify.SHA256, f.sha256
		if f.blake3 != "" {
			alg, hexd = verify.BLAKE3, f.blake3
		}
		d, err := verify.ParseDigest(hexd)
		if err != nil {
			return nil, usageError{err}
		}
		name := ""
		if st, err := os.Stat(model); err == nil && !st.IsDir() {
			name = filepath.Base(model) // named, so that a wrong digest is a mismatch that shows both
		}
		a, err := verify.NewAllowlist(verify.NewEntry(name, alg, d))
		if err != nil {
			return nil, err
		}
		return []loader.Option{loader.WithAllowlist(a)}, nil
	case f.sha256File != "" || f.blake3File != "":
		path, alg, flag := f.sha256File, verify.SHA256, "--sha256-file"
		if f.blake3File != "" {
			path, alg, flag = f.blake3File, verify.BLAKE3, "--blake3-file"
		}
		df, err := verify.ReadDigestFile(path, alg)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", flag, err)}
		}
		return []loader.Option{loader.WithDigestFile(df)}, nil
	}
	return nil, nil
}
