package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/loader/oci"
	"github.com/modelgate/modelgate/verify"
)

// loadFlags are the flags every command that opens a model shares.
type loadFlags struct {
	policy      string
	sha256      string
	blake3      string
	sha256File  string
	profile     string
	allowRawFP8 bool
	mode        string
	root        string
	exclude     []string
	allowCode   bool
	sig         sigFlags
	oci         ociFlags
}

// ociFlags say how to fetch an OCI artifact.
type ociFlags struct {
	plainHTTP   bool
	platform    string
	mediaTypes  []string
	pinned      bool // require an @sha256 pin (verify without a signature)
	policySigns bool // the policy names signers
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
	fl.StringSliceVar(&s.keys, "key", nil, "allow signatures by the PEM public key, or raw ML-DSA public key, in `FILE` (repeatable)")
	fl.StringSliceVar(&s.cas, "ca", nil, "allow certificate chains to the PEM CA in `FILE` (repeatable)")
	fl.StringVar(&s.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json `FILE` (offline); default: the public-good instance via TUF")
	fl.StringSliceVar(&s.ignorePaths, "ignore-paths", nil, "leave `PATHS` out of the model's manifest, as model_signing does")
}

// set reports whether any signer was named.
func (s *sigFlags) set() bool {
	return s.identity != "" || s.identityRegexp != "" || len(s.keys) > 0 || len(s.cas) > 0
}

// verifier builds the signature verifier the flags describe (nil when
// they name no signer).
func (s *sigFlags) verifier() (*verify.SignatureVerifier, error) {
	if !s.set() {
		if s.issuer != "" || s.trustedRoot != "" {
			return nil, usageError{fmt.Errorf("name who may sign: --identity or --identity-regexp with --issuer, --key, or --ca")}
		}
		return nil, nil
	}
	var opts []verify.SignatureOption
	if s.identity != "" || s.identityRegexp != "" {
		if s.issuer == "" || (s.identity != "" && s.identityRegexp != "") {
			return nil, usageError{fmt.Errorf("give --issuer and one of --identity and --identity-regexp")}
		}
		if s.trustedRoot == "" {
			opts = append(opts, verify.WithPublicGoodInstance())
		}
		opts = append(opts, verify.WithIdentity(s.issuer, s.identity, s.identityRegexp))
	}
	if s.trustedRoot != "" {
		opts = append(opts, verify.WithTrustedRootFile(s.trustedRoot))
	}
	for _, k := range s.keys {
		if err := checkPublicKeyFile(k); err != nil {
			return nil, err
		}
		opts = append(opts, verify.WithPublicKeyFile(k))
	}
	for _, c := range s.cas {
		opts = append(opts, verify.WithCAFile(c))
	}
	if s.bundle != "" {
		opts = append(opts, verify.WithBundleFile(s.bundle))
	}
	v, err := verify.NewSignatureVerifier(opts...)
	if err != nil && formats.KindOf(err) != formats.KindIO || err != nil && errors.Is(err, fs.ErrNotExist) {
		return nil, usageError{err} // a key, CA or root that does not read: the flags are wrong
	}
	return v, err
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

func (f *loadFlags) register(cmd *cobra.Command, digests bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.profile, "profile", "", "refuse what a runtime would misread: mlx")
	fl.BoolVar(&f.allowRawFP8, "allow-raw-fp8", false, "with --profile mlx, accept F8_E4M3/F8_E8M0, which MLX loads as raw uint8")
	fl.StringVar(&f.mode, "mode", "map", "how verified bytes are held: map, read-at or private-copy")
	fl.StringVar(&f.root, "root", "", "confine file access to `DIR` (default: the model's directory)")
	fl.StringVar(&f.policy, "policy", "", "apply the policy in `FILE` (formats, limits, digests, signatures)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "let inert files (text, empty, tokenizers) matching `GLOB` go uncovered by digests and signatures (repeatable; never weights, code or pickles)")
	fl.BoolVar(&f.allowCode, "allow-code", false, "accept code that runs on load (*.py, auto_map) when digests or a signature cover it")
	fl.BoolVar(&f.oci.plainHTTP, "plain-http", false, "reach an oci:// registry over HTTP, not HTTPS (loopback registries always are)")
	fl.StringVar(&f.oci.platform, "platform", "", "choose an OCI index's manifest for `OS/ARCH[/VARIANT]`")
	fl.StringArrayVar(&f.oci.mediaTypes, "media-type", nil, "accept a further OCI artifact or layer media `TYPE` (repeatable)")
	if digests {
		f.sig.register(fl)
		fl.StringVar(&f.sha256, "sha256", "", "require the file's SHA-256 to be `HEX`")
		fl.StringVar(&f.blake3, "blake3", "", "require the file's BLAKE3 (as b3sum prints it) to be `HEX`")
		fl.StringVar(&f.sha256File, "sha256-file", "", "require every file to be approved by the sha256sum or b3sum `FILE` (a name containing b3 or blake3, such as B3SUMS, is read as b3sum)")
	}
}

// open opens the model at path with the loader options the flags give.
func (f *loadFlags) open(ctx context.Context, path string) (*loader.Model, error) {
	if oci.IsReference(path) {
		return f.openOCI(ctx, path)
	}
	opts, err := f.options(path)
	if err != nil {
		return nil, err
	}
	return loader.Open(ctx, path, opts...)
}

// ownEvidence reports whether the loader options verify the files by
// themselves: an allowlist (--sha256, a policy's digests) or a policy's
// signatures.
func (o *ociFlags) ownEvidence(lopts []loader.Option) bool {
	if a, err := loader.AllowlistOf(lopts...); err == nil && a != nil {
		return true
	}
	return o.policySigns
}

// openOCI opens an OCI artifact (loader/oci): the flags' loader options
// gate the unpacked tree.
func (f *loadFlags) openOCI(ctx context.Context, ref string) (*loader.Model, error) {
	if f.sha256File != "" || f.root != "" {
		return nil, usageError{fmt.Errorf("--sha256-file and --root name files on disk; an OCI artifact's files are approved by its manifest")}
	}
	var opts []oci.Option
	if f.sig.set() && f.sig.bundle == "" {
		// The signers named verify the manifest's Sigstore referrers; a
		// --bundle instead signs the unpacked files (model_signing).
		sv, err := f.sig.verifier()
		if err != nil {
			return nil, err
		}
		opts = append(opts, oci.WithSignatureVerifier(sv))
		saved := f.sig
		f.sig = sigFlags{ignorePaths: saved.ignorePaths}
		defer func() { f.sig = saved }()
	}
	lopts, err := f.options("")
	if err != nil {
		return nil, err
	}
	opts = append(opts, oci.WithLoaderOptions(lopts...), oci.WithMediaTypes(f.oci.mediaTypes...))
	if f.oci.plainHTTP {
		opts = append(opts, oci.WithPlainHTTPUnsafe())
	}
	if f.oci.platform != "" {
		opts = append(opts, oci.WithPlatform(f.oci.platform))
	}
	if f.oci.pinned && !f.oci.ownEvidence(lopts) {
		opts = append(opts, oci.RequireDigest())
	}
	m, err := oci.Open(ctx, ref, opts...)
	if err != nil {
		return nil, err
	}
	return m.Model, nil
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
	a, err := f.allowlist(model)
	if err != nil || a == nil {
		return opts, err
	}
	if f.sha256File != "" {
		opts = append(opts, loader.WithEvidence(f.sha256File))
	}
	return append(opts, loader.WithAllowlist(a)), nil
}

// allowlist builds the allowlist of --sha256, --blake3 or --sha256-file.
// Names in a sha256sum or b3sum file are relative to the file's
// directory, as for "sha256sum -c" run there; they are rebased onto the
// model's directory (a single file's directory), and entries outside it
// are dropped.
func (f *loadFlags) allowlist(model string) (*verify.Allowlist, error) {
	given := 0
	for _, v := range []string{f.sha256, f.blake3, f.sha256File} {
		if v != "" {
			given++
		}
	}
	switch {
	case given > 1:
		return nil, usageError{fmt.Errorf("give one of --sha256, --blake3 and --sha256-file")}
	case f.sha256 != "" || f.blake3 != "":
		alg, hexd := verify.SHA256, f.sha256
		if f.blake3 != "" {
			alg, hexd = verify.BLAKE3, f.blake3
		}
		d, err := verify.ParseDigest(hexd)
		if err != nil {
			return nil, usageError{err}
		}
		if st, err := os.Stat(model); err == nil && !st.IsDir() {
			// Named, so that a wrong digest is a mismatch that shows both.
			return verify.NewAllowlist(verify.NewEntry(filepath.Base(model), alg, d))
		}
		return verify.NewAllowlist(verify.NewEntry("", alg, d))
	case f.sha256File != "":
		b, err := os.ReadFile(f.sha256File)
		if err != nil {
			return nil, usageError{fmt.Errorf("--sha256-file: %w", err)}
		}
		if d, _, err := verify.ParseLFSPointer(bytes.NewReader(b)); err == nil {
			// A Git LFS pointer approves its oid for the file it stands for.
			return verify.NewAllowlist(verify.NewEntry("", verify.SHA256, d))
		}
		entries, err := verify.ParseSums(bytes.NewReader(b), verify.SumsAlgorithm(f.sha256File))
		if err != nil {
			return nil, usageError{formats.WithPath(err, f.sha256File)}
		}
		inside := rebase(entries, filepath.Dir(f.sha256File), modelDir(model))
		if len(entries) > 0 && len(inside) == 0 {
			return nil, usageError{fmt.Errorf("--sha256-file %s: none of its %d names lies in %s; they are read relative to %s, as sha256sum -c run there reads them", f.sha256File, len(entries), modelDir(model), filepath.Dir(f.sha256File))}
		}
		return verify.NewAllowlist(inside...)
	}
	return nil, nil
}

// modelDir is the directory a model's names are relative to.
func modelDir(model string) string {
	if st, err := os.Stat(model); err == nil && st.IsDir() {
		return model
	}
	return filepath.Dir(model)
}

// rebase rewrites entries named relative to from (or absolute) as names
// relative to to, dropping entries outside to.
func rebase(entries []verify.Entry, from, to string) []verify.Entry {
	absFrom, err1 := filepath.Abs(from)
	absTo, err2 := filepath.Abs(to)
	if err1 != nil || err2 != nil {
		return entries
	}
	var out []verify.Entry
	for _, e := range entries {
		full := filepath.FromSlash(e.Name)
		if !filepath.IsAbs(full) {
			full = filepath.Join(absFrom, full)
		}
		if rel, err := filepath.Rel(absTo, full); err == nil && filepath.IsLocal(rel) {
			e.Name = filepath.ToSlash(rel)
			out = append(out, e)
		}
	}
	return out
}
