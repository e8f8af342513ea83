package loader

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
)

// Option configures Open.
type Option func(*config) error

// Mode says how Open holds the bytes it verifies and hands out. In every
// mode the bytes handed out are the bytes verified, or reading them fails
// cleanly; no write by another process can crash the reader.
//
// Map and read-at take a Linux read lease on each file when it is opened,
// before anything is read (internal/lease): another process that opens the
// file for writing, or truncates it, waits in the kernel until Open's
// holder has made the verified bytes safe.
//
// Where no lease can be taken (the file is open for writing elsewhere,
// belongs to another user, as on a model volume a non-root container
// reads, or the system has no leases), and for weight files past the
// 256th of a model, map and read-at rehash the file instead (listed in
// Verified.Rehashed): the SHA-256 of each of its chunks (1 MiB, or
// 1/65,536 of the file) is computed in one pass, and every later read
// opens the file again, reads whole chunks and checks them, failing with
// kind digest-mismatch if any changed. Its tensors are read through
// Section (Bytes fails for them). Memory stays bounded whatever the
// model's size: at most 2 MiB of digests per file and two chunks in all;
// the price is one extra read of the file, and of each chunk read.
type Mode int

const (
	// ModeMap, the default, maps each file read-only and hands out the
	// mapping, zero-copy. When another process asks to write a file, the
	// mapping is replaced at the same addresses by a private copy of the
	// verified bytes before the writer may go on: slices from Model.Bytes
	// keep the verified bytes, and a truncation cannot make them fault.
	// Costs: a lease per file; memory equal to a file's size only when it
	// is written to while open (BENCHMARKS.md).
	ModeMap Mode = iota
	// ModeReadAt reads tensor data through the file when Section is
	// read; nothing is held in memory. Once another process asks to write
	// a leased file, every read of it fails with kind io.
	ModeReadAt
	// ModePrivateCopy reads each file once into private memory while
	// hashing it: nothing done to the file afterwards can change what was
	// verified. It costs memory equal to the model's size, and no lease.
	ModePrivateCopy
)

var modeNames = [...]string{ModeMap: "map", ModeReadAt: "read-at", ModePrivateCopy: "private-copy"}

// String names the mode: map, read-at or private-copy.
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses a mode's name.
func ParseMode(s string) (Mode, error) {
	for m, n := range modeNames {
		if n == s {
			return Mode(m), nil
		}
	}
	return 0, fmt.Errorf("mode %q: choose map, read-at or private-copy", s)
}

// Profile refuses what a given runtime would misread.
type Profile int

const (
	// ProfileNone applies only modelgate's own rules.
	ProfileNone Profile = iota
	// ProfileMLX refuses what Apple's MLX would misread or cannot
	// represent (see CheckMLX).
	ProfileMLX
)

// SignatureVerifier checks a model's signature (verify/signature's Verifier
// is modelgate's). The loader calls it after hashing, with the digests it
// computed, so that a verifier need not read the model again.
type SignatureVerifier interface {
	VerifyModel(ctx context.Context, m *verify.ModelDigests) (signer string, err error)
}

// config is what the options gave, and (after build) the one
// configuration they make together.
type config struct {
	given       given
	checks      verify.Checks     // built: what the model must pass (its Signatures is always nil)
	signatures  SignatureVerifier // built: the one verifier, or nil
	profile     Profile
	allowRawFP8 bool
	mode        Mode
	root        string
	revision    string
	singleLink  bool
	log         *slog.Logger
}

// given is what options gave that a policy can also say; build combines
// them once every option is applied, so that their order does not matter.
type given struct {
	policy     *verify.Policy
	allowlists []*verify.Allowlist
	files      []*verify.DigestFile
	limits     *formats.Limits
	exclude    []string
	evidence   []string
	bundle     string
	allowCode  bool
	verifiers  []SignatureVerifier
	// policySignaturesElsewhere: the caller checks the policy's signatures
	// (WithPolicySignaturesCheckedElsewhereUnsafe).
	policySignaturesElsewhere bool
}

// build combines the policy and the options into one configuration:
// allowlists are merged, exclusions and evidence added up, and every
// signature verifier given (the policy's and WithSignatureVerifier's)
// must accept the model. What cannot be combined is refused with kind
// usage: two policies, limits from both a policy and WithLimits, two
// different bundles, or allowlists that approve one name with different
// digests.
func (c *config) build() error {
	g := &c.given
	var verifiers []SignatureVerifier
	if p := g.policy; p != nil {
		ch, err := p.Checks()
		if err != nil {
			return err
		}
		c.checks = *ch
		c.checks.Exclude = slices.Clone(ch.Exclude)
		c.checks.Evidence = slices.Clone(ch.Evidence)
		c.checks.Signatures = nil
		if ch.Signatures != nil && !g.policySignaturesElsewhere {
			verifiers = append(verifiers, ch.Signatures)
		}
		switch {
		case g.limits != nil && p.Limits != (verify.PolicyLimits{}):
			return usage("limits come from both the policy and WithLimits; give them once")
		case g.bundle != "" && ch.Bundle != "" && !sameFile(g.bundle, ch.Bundle):
			return usage("the bundle is %s by WithBundle and %s by the policy; give it once", g.bundle, ch.Bundle)
		}
	}
	if g.limits != nil {
		c.checks.Limits = *g.limits
	}
	c.checks.Limits = c.checks.Limits.WithDefaults()
	for _, a := range g.allowlists {
		merged, err := a.Merge(c.checks.Allowlist)
		if err != nil {
			return usage("the allowlists given contradict each other: %v", err)
		}
		c.checks.Allowlist = merged
	}
	c.checks.DigestFiles = append(slices.Clone(c.checks.DigestFiles), g.files...)
	for _, df := range g.files {
		g.evidence = append(g.evidence, df.Path)
	}
	c.checks.Exclude = append(c.checks.Exclude, g.exclude...)
	c.checks.Evidence = append(c.checks.Evidence, g.evidence...)
	if g.bundle != "" {
		c.checks.Bundle = g.bundle
	}
	c.checks.AllowCode = c.checks.AllowCode || g.allowCode
	verifiers = append(verifiers, g.verifiers...)
	switch len(verifiers) {
	case 0:
	case 1:
		c.signatures = verifiers[0]
	default:
		c.signatures = allOf(verifiers)
	}
	return nil
}

func usage(format string, args ...any) error {
	return formats.Errorf(formats.KindUsage, formats.NoOffset, format, args...)
}

func sameFile(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}

// allOf requires every verifier to accept the model.
type allOf []SignatureVerifier

func (vs allOf) VerifyModel(ctx context.Context, m *verify.ModelDigests) (string, error) {
	var signers []string
	for _, v := range vs {
		s, err := v.VerifyModel(ctx, m)
		if err != nil {
			return "", err
		}
		signers = append(signers, s)
	}
	return strings.Join(signers, "; "), nil
}

// WithoutHardLinks refuses any file of the model with more than one hard
// link (kind path-traversal): os.Root confines names and symbolic links,
// but a hard link inside the root may be another name of a file outside
// it. A service that checks files on a volume others can write to needs
// it.
func WithoutHardLinks() Option {
	return func(c *config) error { c.singleLink = true; return nil }
}

// WithPolicy applies a policy's complete checks (verify.Policy.Checks):
// formats, limits, digests, signatures, exclusions and whether code may
// load. Other options combine with it whatever their order: allowlists
// are merged, exclusions added, and a signature verifier given as well
// must accept the model too. One policy per Open (kind usage otherwise).
// A policy's signatures are checked only in a program that imports
// verify/signature; elsewhere such a policy is refused (kind usage).
func WithPolicy(p *verify.Policy) Option {
	return func(c *config) error {
		if c.given.policy != nil {
			return usage("two policies given; combine them into one")
		}
		if p == nil {
			return usage("WithPolicy: nil policy")
		}
		c.given.policy = p
		return nil
	}
}

// WithAllowlist requires every file of the model to be approved by a
// (merged with the policy's and any other allowlist given): a listed file
// with another digest is refused (digest-mismatch), an unlisted one too
// (not-allowlisted), and for a directory a listed file that is missing.
func WithAllowlist(a *verify.Allowlist) Option {
	return func(c *config) error {
		if a == nil {
			return usage("WithAllowlist: nil allowlist")
		}
		c.given.allowlists = append(c.given.allowlists, a)
		return nil
	}
}

// WithDigestFile requires every file of the model to be approved by the
// checksum file df (verify.ReadDigestFile), its names rebased onto the
// model's directory as "sha256sum -c" run in df's directory reads them;
// a file none of whose names lies in the model is refused (kind usage).
// The file itself, if it lies in the model, is verification material: it
// need not be covered while inert.
func WithDigestFile(df *verify.DigestFile) Option {
	return func(c *config) error {
		if df == nil {
			return usage("WithDigestFile: nil digest file")
		}
		c.given.files = append(c.given.files, df)
		return nil
	}
}

// WithExclude lets inert files (text, empty, tokenizers) matching the
// patterns (path.Match on slash-separated names relative to the model; a
// matching directory covers what lies below it) go uncovered by digests
// and signatures. Weights, code and pickles are never excused.
func WithExclude(patterns ...string) Option {
	return func(c *config) error {
		for _, p := range patterns {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				return formats.Errorf(formats.KindMalformed, formats.NoOffset, "exclude pattern %q is not a path pattern", p)
			}
		}
		c.given.exclude = append(c.given.exclude, patterns...)
		return nil
	}
}

// WithEvidence names files that are verification material, not model
// content (a sha256sum file kept in the model directory): like
// exclusions, they are excused only while inert.
func WithEvidence(paths ...string) Option {
	return func(c *config) error { c.given.evidence = append(c.given.evidence, paths...); return nil }
}

// WithBundle names the signature file to check (default: model.sig in
// the model directory, FILE.sig beside a file); a policy naming another
// bundle contradicts it (kind usage).
func WithBundle(path string) Option {
	return func(c *config) error { c.given.bundle = path; return nil }
}

// WithAllowCodeUnsafe lets the model hold code that runs on load (*.py
// files, a config naming auto_map), provided digests or a signature cover
// every such file.
func WithAllowCodeUnsafe() Option {
	return func(c *config) error { c.given.allowCode = true; return nil }
}

// WithLimits sets the parser limits; a policy that sets limits too
// contradicts it (kind usage).
func WithLimits(l formats.Limits) Option {
	return func(c *config) error { c.given.limits = &l; return nil }
}

// WithProfile applies a runtime profile.
func WithProfile(p Profile) Option {
	return func(c *config) error { c.profile = p; return nil }
}

// WithRawFP8Unsafe lets ProfileMLX accept F8_E4M3 and F8_E8M0 tensors,
// which MLX loads as raw uint8: the caller must reinterpret them.
func WithRawFP8Unsafe() Option {
	return func(c *config) error { c.allowRawFP8 = true; return nil }
}

// WithMode chooses how bytes are held (default ModeMap).
func WithMode(m Mode) Option {
	return func(c *config) error { c.mode = m; return nil }
}

// WithRoot confines every file access to dir, which must contain the
// model (default: the model directory, or a file's directory). A Hugging
// Face cache snapshot, whose files are links into ../../blobs, is opened
// with the repository's cache directory as root.
func WithRoot(dir string) Option {
	return func(c *config) error { c.root = dir; return nil }
}

// WithRevision opens the snapshot of a Hugging Face cache repository
// folder (models--ORG--NAME) that revision names: a ref under refs/, or a
// commit with a snapshot (default main). Given for anything else, Open
// refuses it (kind usage).
func WithRevision(revision string) Option {
	return func(c *config) error { c.revision = revision; return nil }
}

// WithLogger logs each step at debug level and each refusal at warn
// (nil: no logging).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l != nil {
			c.log = l
		}
		return nil
	}
}

// WithPolicySignaturesCheckedElsewhereUnsafe leaves the policy's
// signatures section to the caller, which must check it itself: loader/oci
// gives it when a policy requires an OCI artifact's manifest signature
// only, which it has verified before unpacking. Given by anyone else it
// drops the policy's signatures.
func WithPolicySignaturesCheckedElsewhereUnsafe() Option {
	return func(c *config) error { c.given.policySignaturesElsewhere = true; return nil }
}

// WithSignatureVerifier checks the model's signature (see package
// verify/signature). Beside a policy's signatures, or another verifier,
// every one of them must accept the model.
func WithSignatureVerifier(v SignatureVerifier) Option {
	return func(c *config) error {
		if v == nil {
			return usage("WithSignatureVerifier: nil verifier")
		}
		c.given.verifiers = append(c.given.verifiers, v)
		return nil
	}
}
