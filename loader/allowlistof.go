package loader

import "github.com/modelgate/modelgate/verify"

// AllowlistOf returns the allowlist opts make every file pass (given by
// WithAllowlist or WithPolicy), or nil when they give none. A caller that
// adds approvals of its own (loader/oci, whose manifest approves the files
// it unpacked) uses it to keep the caller's allowlist in charge: options
// merge allowlists, so an added one would approve files the caller's does
// not.
func AllowlistOf(opts ...Option) (*verify.Allowlist, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return c.checks.Allowlist, nil
}

// PolicyOf returns the policy opts give (WithPolicy), or nil. loader/oci
// reads a policy's signatures from it, to check them over an OCI
// artifact's manifest as well as its files.
func PolicyOf(opts ...Option) (*verify.Policy, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return c.given.policy, nil
}
