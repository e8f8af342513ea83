package verify

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/token"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/chattemplate"
	"github.com/modelgate/modelgate/internal/regular"
)

// Policy is the one file a service and a CI step share: which formats may
// load, the limits, the approved digests and the required signatures. Its
// schema is policy.schema.json beside this file; unknown keys are errors.
//
//	version: 1
//	formats: [safetensors, npz]
//	limits: {max_file_bytes: 200GiB, max_tensors: 200000}
//	digests:
//	  - {name: model.safetensors, sha256: "…"}
//	digest_files: [SHA256SUMS]
//	require: [digest, signature]
//	signatures: {…}
type Policy struct {
	Version int              `yaml:"version" json:"version"`
	Formats []formats.Format `yaml:"formats" json:"formats,omitempty"`
	Limits  PolicyLimits     `yaml:"limits" json:"limits"`
	Digests []Entry          `yaml:"digests" json:"digests,omitempty"`
	// DigestFiles are sha256sum files (or Git LFS pointers), and
	// Blake3Files b3sum files, relative to the policy's directory; the
	// names in each are relative to that file's own directory (DigestFile).
	DigestFiles []string `yaml:"digest_files" json:"digest_files,omitempty"`
	Blake3Files []string `yaml:"blake3_files" json:"blake3_files,omitempty"`
	Require     []string `yaml:"require" json:"require,omitempty"`
	// DigestAlgorithms, when set, are the only algorithms digests and
	// signed manifests may use (sha256, blake3, blake2b): a team that has
	// moved to blake3 can refuse models still signed with sha256.
	DigestAlgorithms []Algorithm `yaml:"digest_algorithms" json:"digest_algorithms,omitempty"`
	Signatures       *Signatures `yaml:"signatures" json:"signatures,omitempty"`
	// Exclude lists path patterns (path.Match, on slash-separated names
	// relative to the model; a pattern also covers what lies below a
	// matching directory) that digests and signatures need not cover. An
	// exclusion only ever excuses an inert file (text, empty, tokenizer):
	// never weights, code or a pickle.
	Exclude []string `yaml:"exclude" json:"exclude,omitempty"`
	// AllowCode lets a model hold code that runs on load (*.py files, a
	// config naming auto_map), provided digests or a signature cover it.
	AllowCode bool `yaml:"allow_code" json:"allow_code,omitempty"`
	// ChatTemplates approves chat templates by digest ("sha256:" and the
	// hex sha256 of the template's text): a template that reaches what a
	// sandboxed renderer forbids is code, and refused unless listed here.
	ChatTemplates []string `yaml:"chat_templates" json:"chat_templates,omitempty"`
	// Scan is what modelgate scan looks at in a repository.
	Scan *ScanSection `yaml:"scan" json:"scan,omitempty"`

	allowlist *Allowlist    // the digests listed inline
	files     []*DigestFile // digest_files and blake3_files
	dir       string        // the policy's directory: relative paths resolve here
	evidence  []string      // digest_files and blake3_files, absolute
	checks    struct {
		once sync.Once
		c    *Checks
		err  error
	}
}

// PolicyLimits are formats.Limits as a policy spells them; sizes take units
// (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB). Zero means the default.
type PolicyLimits struct {
	MaxFileBytes         Size  `yaml:"max_file_bytes" json:"max_file_bytes,omitempty"`
	MaxHeaderBytes       Size  `yaml:"max_header_bytes" json:"max_header_bytes,omitempty"`
	MaxTensors           int64 `yaml:"max_tensors" json:"max_tensors,omitempty"`
	MaxRank              int64 `yaml:"max_rank" json:"max_rank,omitempty"`
	MaxDim               int64 `yaml:"max_dim" json:"max_dim,omitempty"`
	MaxTotalBytes        Size  `yaml:"max_total_bytes" json:"max_total_bytes,omitempty"`
	MaxNameBytes         int64 `yaml:"max_name_bytes" json:"max_name_bytes,omitempty"`
	MaxNpyHeaderBytes    Size  `yaml:"max_npy_header_bytes" json:"max_npy_header_bytes,omitempty"`
	MaxDecompressedBytes Size  `yaml:"max_decompressed_bytes" json:"max_decompressed_bytes,omitempty"`
	MaxCompressionRatio  int64 `yaml:"max_compression_ratio" json:"max_compression_ratio,omitempty"`
	MaxMetadataEntries   int64 `yaml:"max_metadata_entries" json:"max_metadata_entries,omitempty"`
	MaxMetadataBytes     Size  `yaml:"max_metadata_bytes" json:"max_metadata_bytes,omitempty"`
}

// Signatures is the signatures section: who may sign, and what to trust.
// It is plain data here; Policy.Checks has the verifier built by the
// builder verify/signature registers (RegisterSignatures).
type Signatures struct {
	// Bundle is the signature file, relative to the model; default
	// model.sig inside a model directory or beside a file.
	Bundle string `yaml:"bundle" json:"bundle,omitempty"`
	// TrustedRoot is a Sigstore trusted_root.json (offline); without it the
	// public-good instance is used through TUF.
	TrustedRoot string     `yaml:"trusted_root" json:"trusted_root,omitempty"`
	Identities  []Identity `yaml:"identities" json:"identities,omitempty"`
	Keys        []string   `yaml:"keys" json:"keys,omitempty"` // PEM public keys
	CAs         []string   `yaml:"cas" json:"cas,omitempty"`   // PEM CA certificates
	IgnorePaths []string   `yaml:"ignore_paths" json:"ignore_paths,omitempty"`
	// OCI names the signatures an OCI artifact needs (loader/oci):
	// "manifest", a cosign signature over its manifest digest; "files", a
	// model_signing bundle over its unpacked files (the default: what
	// the signatures of a directory mean).
	OCI []string `yaml:"oci" json:"oci,omitempty"`
}

// The signatures an OCI artifact can be required to carry
// (Signatures.OCI).
const (
	OCISignedManifest = "manifest"
	OCISignedFiles    = "files"
)

// ScanSection is the policy's scan section: path patterns (path.Match,
// relative to each scanned directory) whose files scan ignores when they
// are no model, pickle or code; with include, every other file is treated
// so.
type ScanSection struct {
	Include []string `yaml:"include" json:"include,omitempty"`
	Exclude []string `yaml:"exclude" json:"exclude,omitempty"`
}

// Identity is a Sigstore keyless signer: an OIDC issuer and a certificate
// subject (SAN), exact or as a regular expression (always anchored).
type Identity struct {
	Issuer        string `yaml:"issuer" json:"issuer"`
	Subject       string `yaml:"subject" json:"subject,omitempty"`
	SubjectRegexp string `yaml:"subject_regexp" json:"subject_regexp,omitempty"`
}

// The requirements a policy can name.
const (
	RequireDigest    = "digest"
	RequireSignature = "signature"
)

// Size is a byte count that YAML may spell with a unit ("200GiB").
type Size int64

var sizeUnits = map[string]int64{
	"": 1, "B": 1, "KB": 1e3, "KiB": 1 << 10, "MB": 1e6, "MiB": 1 << 20,
	"GB": 1e9, "GiB": 1 << 30, "TB": 1e12, "TiB": 1 << 40,
}

var sizeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]+)\s*([KMGT]i?B|B)?$`) })

// ParseSize parses "123", "64MiB", "200 GiB".
func ParseSize(s string) (Size, error) {
	m := sizeRE().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("size %q is not a number with an optional unit (B, KB, KiB, … TiB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	v, ok := formats.MulInt64(n, sizeUnits[m[2]])
	if err != nil || !ok {
		return 0, fmt.Errorf("size %q overflows", s)
	}
	return Size(v), nil
}

// UnmarshalText parses a size with an optional unit.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	*s = v
	return err
}

// UnmarshalText parses 64 hex digits.
func (d *Digest) UnmarshalText(b []byte) error {
	v, err := ParseDigest(string(b))
	*d = v
	return err
}

// LoadPolicy reads and validates a policy file. digest_files and
// blake3_files are read relative to the policy file's directory.
func LoadPolicy(path string) (*Policy, error) {
	b, err := regular.ReadCapped(path, MaxPolicyBytes)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	p, err := ParsePolicy(b, filepath.Dir(path))
	if err != nil {
		return nil, formats.WithPath(err, path)
	}
	return p, nil
}

// ParsePolicy parses and validates a policy; dir resolves digest_files.
func ParsePolicy(b []byte, dir string) (*Policy, error) {
	var p Policy
	if err := decodeYAML(b, &p); err != nil {
		return nil, err
	}
	p.dir = dir
	for _, f := range []struct {
		names []string
		alg   Algorithm
	}{{p.DigestFiles, SHA256}, {p.Blake3Files, BLAKE3}} {
		for _, name := range f.names {
			df, err := ReadDigestFile(p.rel(filepath.FromSlash(name)), f.alg)
			if err != nil {
				return nil, err
			}
			p.files = append(p.files, df)
			p.evidence = append(p.evidence, df.absPath())
		}
	}
	a, err := NewAllowlist(p.Digests...)
	if err != nil {
		return nil, err
	}
	p.allowlist = a
	if err := p.validate(); err != nil {
		return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "policy: %s", err)
	}
	return &p, nil
}

// MaxPolicyBytes caps a policy file: real ones are a few KB.
const MaxPolicyBytes = 1 << 20

// decodeYAML decodes strictly. A policy may not use anchors or aliases:
// nested aliases expand exponentially before types are checked (a 0.5 KB
// policy cost minutes and gigabytes), and a policy has no need of them; they
// are refused from the tokens, before anything is expanded. goccy/go-yaml
// v1.19.2 panics on some malformed input (a tag on a sequence, found by
// FuzzParsers); such input is refused as malformed rather than crashing
// the caller.
func decodeYAML(b []byte, p *Policy) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = formats.Errorf(formats.KindMalformed, formats.NoOffset, "policy: YAML the decoder cannot handle: %v", r)
		}
	}()
	if len(b) > MaxPolicyBytes {
		return formats.Exceeded(formats.NoOffset, "policy size", int64(len(b)), "MaxPolicyBytes", MaxPolicyBytes)
	}
	for _, tk := range lexer.Tokenize(string(b)) {
		if tk.Type == token.AnchorType || tk.Type == token.AliasType {
			return formats.Errorf(formats.KindMalformed, formats.NoOffset, "policy: line %d: YAML anchors and aliases are not allowed in a policy", tk.Position.Line)
		}
	}
	if err := yaml.UnmarshalWithOptions(b, p, yaml.DisallowUnknownField(), yaml.Strict()); err != nil {
		return formats.Errorf(formats.KindMalformed, formats.NoOffset, "policy: %s", yaml.FormatError(err, false, false))
	}
	return nil
}

// validate refuses an empty or contradictory policy.
func (p *Policy) validate() error {
	if p.Version != 0 && p.Version != 1 {
		return fmt.Errorf("version %d; this modelgate reads version 1", p.Version)
	}
	for _, f := range p.Limits.fields() {
		if f.value < 0 {
			return fmt.Errorf("limits: %s is negative (%d)", f.name, f.value)
		}
	}
	if p.isEmpty() {
		return fmt.Errorf("the policy says nothing: give formats, limits, digests, signatures or require")
	}
	for i, f := range p.Formats {
		if !formats.IsAccepted(f) {
			return fmt.Errorf("formats: %q cannot be loaded safely; choose among safetensors, npy, npz and gguf", f)
		}
		if slices.Contains(p.Formats[:i], f) {
			return fmt.Errorf("formats: %q is listed twice", f)
		}
	}
	for i, r := range p.Require {
		if r != RequireDigest && r != RequireSignature {
			return fmt.Errorf("require: %q is not digest or signature", r)
		}
		if slices.Contains(p.Require[:i], r) {
			return fmt.Errorf("require: %q is listed twice", r)
		}
	}
	for i, a := range p.DigestAlgorithms {
		if _, err := ParseAlgorithm(string(a)); err != nil || a == "blake2" {
			return fmt.Errorf("digest_algorithms: %q is not sha256, blake3 or blake2b", a)
		}
		if slices.Contains(p.DigestAlgorithms[:i], a) {
			return fmt.Errorf("digest_algorithms: %q is listed twice", a)
		}
	}
	if len(p.DigestAlgorithms) > 0 {
		algs := p.allowlist.Algorithms()
		for _, f := range p.files {
			algs = append(algs, f.Algorithms()...)
		}
		for _, a := range algs {
			if !slices.Contains(p.DigestAlgorithms, a) {
				return fmt.Errorf("digests: a %s digest, and digest_algorithms allows %v", a, p.DigestAlgorithms)
			}
		}
	}
	if p.Requires(RequireDigest) && p.approves() == 0 {
		return fmt.Errorf("require: digest, but no digests or digest_files approve anything")
	}
	if p.Requires(RequireSignature) && (p.Signatures == nil || p.Signatures.empty()) {
		return fmt.Errorf("require: signature, but the signatures section names no identity, key or CA")
	}
	for _, d := range p.ChatTemplates {
		if !chattemplate.ValidDigest(d) {
			return fmt.Errorf("chat_templates: %q is not sha256: and 64 lowercase hex digits", d)
		}
	}
	pats := slices.Clone(p.Exclude)
	if p.Scan != nil {
		pats = append(append(pats, p.Scan.Include...), p.Scan.Exclude...)
	}
	for _, pat := range pats {
		if _, err := path.Match(pat, ""); err != nil || pat == "" {
			return fmt.Errorf("%q is not a path pattern", pat)
		}
	}
	if p.Signatures != nil {
		return p.Signatures.validate()
	}
	return nil
}

// rel resolves a path the policy names against the policy's directory.
func (p *Policy) rel(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(p.dir, name)
}

// Checks is everything a policy asks of a model, built once by
// Policy.Checks: the loader applies it, and the CLI and services only
// translate their flags and configuration into a policy or options.
type Checks struct {
	Formats      []formats.Format // nil: every format modelgate accepts
	Limits       formats.Limits   // with defaults
	MaxFileBytes int64            // 0: no limit
	Allowlist    *Allowlist       // digests named relative to the model; nil: none
	DigestFiles  []*DigestFile    // checksum files, rebased onto the model by AllowlistFor
	Signatures   ModelVerifier    // nil: no signature required
	Bundle       string           // the signature file, "" to look for it
	Exclude      []string         // patterns that excuse inert files
	Evidence     []string         // absolute paths of digest files, which are not part of a model
	AllowCode    bool
	// ChatTemplates are the digests of approved chat templates
	// (formats/content Identity.Code).
	ChatTemplates []string
}

// Checks builds the policy's complete checks once, its signature verifier
// included (built by the builder RegisterSignatures registered, which,
// for identities without a trusted_root, fetches the public-good root
// through TUF), and returns them on every later call. Digests are
// required whenever the policy lists any: under an allowlist every file
// of a model must be approved. A policy with a signatures section is
// refused (kind usage) when the program registered no builder.
func (p *Policy) Checks() (*Checks, error) {
	p.checks.once.Do(func() { p.checks.c, p.checks.err = p.buildChecks() })
	return p.checks.c, p.checks.err
}

func (p *Policy) buildChecks() (*Checks, error) {
	l := p.Limits
	c := &Checks{
		Formats:       slices.Clone(p.Formats),
		Limits:        p.FormatLimits(),
		MaxFileBytes:  int64(l.MaxFileBytes),
		Exclude:       slices.Clone(p.Exclude),
		Evidence:      slices.Clone(p.evidence),
		AllowCode:     p.AllowCode,
		ChatTemplates: slices.Clone(p.ChatTemplates),
	}
	if p.allowlist.Len() > 0 {
		c.Allowlist = p.allowlist
	}
	c.DigestFiles = slices.Clone(p.files)
	if s := p.Signatures; s != nil {
		build := signaturesBuilder.Load()
		if build == nil {
			return nil, formats.Errorf(formats.KindUsage, formats.NoOffset, "policy: a signatures section, and this program links no signature verifier (package verify/signature)")
		}
		v, err := (*build)(s, p.dir, p.DigestAlgorithms...)
		if err != nil {
			return nil, err
		}
		c.Signatures, c.Exclude = v, append(c.Exclude, s.IgnorePaths...)
		if s.Bundle != "" {
			c.Bundle = p.rel(s.Bundle)
		}
	}
	return c, nil
}

// AllowlistFor is the allowlist for the model directory dir: Allowlist
// and the DigestFiles' entries named relative to dir; nil when there are
// none. Digests that contradict each other, or a digest file none of whose
// names lies in dir, are refused (kind usage).
func (c *Checks) AllowlistFor(dir string) (*Allowlist, error) {
	if len(c.DigestFiles) == 0 {
		return c.Allowlist, nil
	}
	var inline []Entry
	if c.Allowlist != nil {
		inline = c.Allowlist.entries()
	}
	return allowlistFor(dir, inline, c.DigestFiles)
}

func (p *Policy) isEmpty() bool {
	return len(p.Formats) == 0 && p.Limits == (PolicyLimits{}) && p.approves() == 0 &&
		len(p.Require) == 0 && len(p.DigestAlgorithms) == 0 && p.Signatures == nil && len(p.Exclude) == 0 && !p.AllowCode && p.Scan == nil && len(p.ChatTemplates) == 0
}

func (s *Signatures) empty() bool {
	return len(s.Identities) == 0 && len(s.Keys) == 0 && len(s.CAs) == 0
}

func (s *Signatures) validate() error {
	if s.empty() {
		return fmt.Errorf("signatures: name at least one identity, key or CA")
	}
	for i, k := range s.OCI {
		if k != OCISignedManifest && k != OCISignedFiles {
			return fmt.Errorf("signatures.oci: %q is not manifest or files", k)
		}
		if slices.Contains(s.OCI[:i], k) {
			return fmt.Errorf("signatures.oci: %q is listed twice", k)
		}
	}
	for _, id := range s.Identities {
		if id.Issuer == "" {
			return fmt.Errorf("signatures.identities: every identity needs an issuer")
		}
		if (id.Subject == "") == (id.SubjectRegexp == "") {
			return fmt.Errorf("signatures.identities: give exactly one of subject and subject_regexp")
		}
		if id.SubjectRegexp != "" {
			if _, err := regexp.Compile(id.SubjectRegexp); err != nil {
				return fmt.Errorf("signatures.identities: subject_regexp: %v", err)
			}
		}
	}
	return nil
}

// Requires reports whether the policy requires r (digest or signature).
func (p *Policy) Requires(r string) bool { return slices.Contains(p.Require, r) }

// approves counts the digests the policy lists, inline and in files.
func (p *Policy) approves() int {
	n := p.allowlist.Len()
	for _, f := range p.files {
		n += f.Len()
	}
	return n
}

// AllowlistFor returns the approved digests for the model directory dir
// (a single file's directory): the inline digests, and the digest files'
// names rebased onto dir (DigestFile.For).
func (p *Policy) AllowlistFor(dir string) (*Allowlist, error) {
	c := Checks{Allowlist: p.allowlist, DigestFiles: p.files}
	return c.AllowlistFor(dir)
}

// AllowsFormat reports whether f may load (any accepted format when the
// policy lists none).
func (p *Policy) AllowsFormat(f formats.Format) bool {
	return len(p.Formats) == 0 || slices.Contains(p.Formats, f)
}

// FormatLimits returns the policy's limits as formats.Limits (zero fields
// keep their defaults).
func (p *Policy) FormatLimits() formats.Limits {
	var out formats.Limits
	for _, f := range p.Limits.fields() {
		if f.to != nil {
			*f.to(&out) = f.value
		}
	}
	return out.WithDefaults()
}

// limitField is one policy limit: its YAML key, its value, and the
// formats.Limits field it sets (nil for max_file_bytes, which the loader
// checks per file).
type limitField struct {
	name  string
	value int64
	to    func(*formats.Limits) *int64
}

// fields is the one table of the policy's limits; validate, FormatLimits
// and TestPolicyLimitsTable read it.
func (l PolicyLimits) fields() []limitField {
	return []limitField{
		{"max_file_bytes", int64(l.MaxFileBytes), nil},
		{"max_header_bytes", int64(l.MaxHeaderBytes), func(f *formats.Limits) *int64 { return &f.MaxHeaderBytes }},
		{"max_tensors", l.MaxTensors, func(f *formats.Limits) *int64 { return &f.MaxTensors }},
		{"max_rank", l.MaxRank, func(f *formats.Limits) *int64 { return &f.MaxRank }},
		{"max_dim", l.MaxDim, func(f *formats.Limits) *int64 { return &f.MaxDim }},
		{"max_total_bytes", int64(l.MaxTotalBytes), func(f *formats.Limits) *int64 { return &f.MaxTotalBytes }},
		{"max_name_bytes", l.MaxNameBytes, func(f *formats.Limits) *int64 { return &f.MaxNameBytes }},
		{"max_npy_header_bytes", int64(l.MaxNpyHeaderBytes), func(f *formats.Limits) *int64 { return &f.MaxNpyHeaderBytes }},
		{"max_decompressed_bytes", int64(l.MaxDecompressedBytes), func(f *formats.Limits) *int64 { return &f.MaxDecompressedBytes }},
		{"max_compression_ratio", l.MaxCompressionRatio, func(f *formats.Limits) *int64 { return &f.MaxCompressionRatio }},
		{"max_metadata_entries", l.MaxMetadataEntries, func(f *formats.Limits) *int64 { return &f.MaxMetadataEntries }},
		{"max_metadata_bytes", int64(l.MaxMetadataBytes), func(f *formats.Limits) *int64 { return &f.MaxMetadataBytes }},
	}
}

// CheckFileSize refuses a file over max_file_bytes.
func (p *Policy) CheckFileSize(name string, size int64) error {
	if p.Limits.MaxFileBytes > 0 && size > int64(p.Limits.MaxFileBytes) {
		return formats.WithPath(formats.Exceeded(formats.NoOffset, "file size", size, "max_file_bytes", int64(p.Limits.MaxFileBytes)), name)
	}
	return nil
}
