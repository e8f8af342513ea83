package loader

import (
	"context"
	"log/slog"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
)

// Option configures Open.
type Option func(*config) error

// Mode says how Open holds the bytes it verifies and hands out.
type Mode int

const (
	// ModeMap maps each file read-only (shared) and parses and hands out
	// the mapping; the digest is read from the same page cache: the
	// verified bytes are the loaded bytes as long as no one writes to the
	// file while it is open. Open re-checks size, mtime
	// and the parsed header region before returning, which catches a swap
	// or a rewrite during verification, not a write after it.
	ModeMap Mode = iota
	// ModeReadAt reads through the open file with no mapping: the header
	// is parsed after hashing and re-checked at the end like ModeMap, but
	// tensor data is read from the file when Section is read, so a writer
	// with access to the file can change it after Open. Use it where
	// mapping is impossible and the file system is trusted.
	ModeReadAt
	// ModePrivateCopy reads each file once into private memory while
	// hashing it: nothing done to the file afterwards can change what was
	// verified. It costs memory equal to the model's size.
	ModePrivateCopy
)

// Profile refuses what a given runtime would misread.
type Profile int

const (
	// ProfileNone applies only modelgate's own rules.
	ProfileNone Profile = iota
	// ProfileMLX refuses what Apple's MLX would misread or cannot
	// represent (see CheckMLX).
	ProfileMLX
)

// SignatureVerifier checks a model's signature (verify.SignatureVerifier
// is modelgate's). The loader calls it after hashing, with the digests it
// computed, so that a verifier need not read the model again.
type SignatureVerifier interface {
	VerifyModel(ctx context.Context, m *verify.ModelDigests) (signer string, err error)
}

type config struct {
	policy      *verify.Policy
	allowlist   *verify.Allowlist
	requireDig  bool
	limits      formats.Limits
	profile     Profile
	allowRawFP8 bool
	mode        Mode
	root        string
	log         *slog.Logger
	signatures  SignatureVerifier
}

// WithPolicy applies a policy: its formats, limits, digests and
// requirements.
func WithPolicy(p *verify.Policy) Option {
	return func(c *config) error { c.policy = p; return nil }
}

// WithAllowlist checks every file against a, and refuses files it does
// not approve when required.
func WithAllowlist(a *verify.Allowlist, required bool) Option {
	return func(c *config) error { c.allowlist, c.requireDig = a, required; return nil }
}

// WithLimits sets the parser limits (a policy's limits override them).
func WithLimits(l formats.Limits) Option {
	return func(c *config) error { c.limits = l; return nil }
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

// WithSignatureVerifier checks the model's signature (see verify's
// Sigstore support); a policy that requires a signature needs one.
func WithSignatureVerifier(v SignatureVerifier) Option {
	return func(c *config) error { c.signatures = v; return nil }
}
