package verify

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/modelgate/modelgate/formats"
)

// Entry approves one digest, under a name or (Name == "") under any name.
// A name is a slash-separated path relative to the model's root; a single
// file is known by its base name. Exactly one of SHA256 and BLAKE3 is set.
type Entry struct {
	Name   string  `json:"name,omitempty" yaml:"name,omitempty"`
	SHA256 *Digest `json:"sha256,omitempty" yaml:"sha256,omitempty"`
	BLAKE3 *Digest `json:"blake3,omitempty" yaml:"blake3,omitempty"`
}

// NewEntry returns the entry approving d, a digest by a, under name.
func NewEntry(name string, a Algorithm, d Digest) Entry {
	e := Entry{Name: name}
	if a == BLAKE3 {
		e.BLAKE3 = &d
	} else {
		e.SHA256 = &d
	}
	return e
}

// approval is one approved digest and its algorithm.
type approval struct {
	alg Algorithm
	d   Digest
}

func (p approval) String() string { return string(p.alg) + " " + p.d.String() }

func (e Entry) approval() (approval, error) {
	switch {
	case e.SHA256 != nil && e.BLAKE3 == nil:
		return approval{SHA256, *e.SHA256}, nil
	case e.BLAKE3 != nil && e.SHA256 == nil:
		return approval{BLAKE3, *e.BLAKE3}, nil
	}
	return approval{}, formats.Errorf(formats.KindMalformed, formats.NoOffset, "allowlist entry %q must give one digest, sha256 or blake3", e.Name)
}

// Allowlist is a set of approved digests.
type Allowlist struct {
	byName  map[string]approval
	anyName map[approval]bool
}

// NewAllowlist builds an allowlist, refusing names that are not clean
// relative paths, entries without exactly one digest, and a name listed
// twice with different digests.
func NewAllowlist(entries ...Entry) (*Allowlist, error) {
	a := &Allowlist{byName: map[string]approval{}, anyName: map[approval]bool{}}
	for _, e := range entries {
		p, err := e.approval()
		if err != nil {
			return nil, err
		}
		if e.Name == "" {
			a.anyName[p] = true
			continue
		}
		name := strings.TrimPrefix(e.Name, "./")
		if !cleanName(name) {
			return nil, formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "allowlist name %q is not a clean relative path", e.Name)
		}
		if prev, ok := a.byName[name]; ok && prev != p {
			return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "allowlist lists %q twice, with different digests", name)
		}
		a.byName[name] = p
	}
	return a, nil
}

// Names returns the names the allowlist lists, in no order.
func (a *Allowlist) Names() []string {
	out := make([]string, 0, len(a.byName))
	for n := range a.byName {
		out = append(out, n)
	}
	return out
}

// Algorithms returns the algorithms the allowlist's digests use, sorted:
// the digests a file needs before Check can decide on it.
func (a *Allowlist) Algorithms() []Algorithm {
	var out []Algorithm
	add := func(p approval) {
		if !slices.Contains(out, p.alg) {
			out = append(out, p.alg)
		}
	}
	for _, p := range a.byName {
		add(p)
	}
	for p := range a.anyName {
		add(p)
	}
	slices.Sort(out)
	return out
}

// Merge returns an allowlist approving what a or b approves; a name both
// list must have the same digest in both.
func (a *Allowlist) Merge(b *Allowlist) (*Allowlist, error) {
	var entries []Entry
	for _, x := range []*Allowlist{a, b} {
		if x != nil {
			entries = append(entries, x.entries()...)
		}
	}
	return NewAllowlist(entries...)
}

// entries lists what the allowlist approves.
func (a *Allowlist) entries() []Entry {
	var out []Entry
	for n, p := range a.byName {
		out = append(out, NewEntry(n, p.alg, p.d))
	}
	for p := range a.anyName {
		out = append(out, NewEntry("", p.alg, p.d))
	}
	return out
}

// Len returns how many entries the allowlist holds.
func (a *Allowlist) Len() int { return len(a.byName) + len(a.anyName) }

// Check decides whether the file f, hashed by every algorithm in
// Algorithms, is approved. A file listed by name must have that name's
// digest (else digest-mismatch); a file not listed by name is approved
// only by a nameless entry with one of its digests (else not-allowlisted).
func (a *Allowlist) Check(f *FileDigest) error {
	if want, ok := a.byName[f.Name]; ok {
		got := f.Digest(want.alg)
		if got == nil {
			return formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "the allowlist approves a %s digest, and the file was not hashed with %s", want.alg, want.alg), f.Name)
		}
		if *got != want.d {
			return formats.WithPath(formats.Errorf(formats.KindDigestMismatch, formats.NoOffset,
				"%s is %s; the allowlist approves %s", want.alg, got, want.d), f.Name)
		}
		return nil
	}
	var have []string
	for _, alg := range []Algorithm{SHA256, BLAKE3} {
		if d := f.Digest(alg); d != nil {
			if a.anyName[approval{alg, *d}] {
				return nil
			}
			have = append(have, approval{alg, *d}.String())
		}
	}
	return formats.WithPath(formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset,
		"no allowlist entry approves this file (%s)", strings.Join(have, ", ")), f.Name)
}

// bsdLine is the tagged form `sha256sum --tag` and openssl print, which
// names its algorithm.
var bsdLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(SHA256|BLAKE3) \((.*)\) = ([0-9a-fA-F]{64})$`) })

// ParseSums reads a sha256sum or b3sum file whose untagged lines are
// digests by a: lines "HEX  name" or "HEX *name" (binary marker), GNU's
// escaped form "\HEX  name\nwith\\escapes", and the tagged form
// "SHA256 (name) = HEX" or "BLAKE3 (name) = HEX", which names its own
// algorithm. Any other line is refused with its line number; blank lines
// are allowed.
func ParseSums(r io.Reader, a Algorithm) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, err := parseSumLine(line, a)
		if err != nil {
			return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "line %d: %s", n, err).WithField(string(a) + "sum")
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, formats.IOError(formats.NoOffset, err)
	}
	return out, nil
}

func parseSumLine(line string, a Algorithm) (Entry, error) {
	if m := bsdLine().FindStringSubmatch(line); m != nil {
		d, err := ParseDigest(m[3])
		return NewEntry(m[2], Algorithm(strings.ToLower(m[1])), d), err
	}
	escaped := strings.HasPrefix(line, `\`)
	line = strings.TrimPrefix(line, `\`)
	if len(line) < 67 || (line[64:66] != "  " && line[64:66] != " *") {
		return Entry{}, fmt.Errorf("not \"HEX  name\" or \"HEX *name\"")
	}
	d, err := ParseDigest(line[:64])
	if err != nil {
		return Entry{}, err
	}
	name := line[66:]
	if escaped {
		if name, err = unescapeName(name); err != nil {
			return Entry{}, err
		}
	}
	return NewEntry(name, a, d), nil
}

func unescapeName(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("dangling escape in name")
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("unknown escape \\%c in name", s[i])
		}
	}
	return b.String(), nil
}

// MaxLFSPointerBytes caps a Git LFS pointer file.
const MaxLFSPointerBytes = 1024

// ParseLFSPointer reads a Git LFS pointer file (as Hugging Face serves for
// large files) and returns the oid and size it names. It accepts exactly
// the spec's three lines, in order: version, oid sha256:HEX, size N.
func ParseLFSPointer(r io.Reader) (Digest, int64, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxLFSPointerBytes+1))
	if err != nil {
		return Digest{}, 0, formats.IOError(formats.NoOffset, err)
	}
	bad := func(why string) error {
		return formats.Errorf(formats.KindMalformed, formats.NoOffset, "not a Git LFS pointer: %s", why)
	}
	if len(b) > MaxLFSPointerBytes {
		return Digest{}, 0, bad("longer than 1024 bytes")
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[0] != "version https://git-lfs.github.com/spec/v1" {
		return Digest{}, 0, bad("expected version, oid and size lines")
	}
	hexd, ok := strings.CutPrefix(lines[1], "oid sha256:")
	if !ok {
		return Digest{}, 0, bad("no sha256 oid")
	}
	d, err := ParseDigest(hexd)
	if err != nil {
		return Digest{}, 0, err
	}
	sz, ok := strings.CutPrefix(lines[2], "size ")
	n, perr := strconv.ParseInt(sz, 10, 64)
	if !ok || perr != nil || n < 0 || strconv.FormatInt(n, 10) != sz {
		return Digest{}, 0, bad("size is not a non-negative integer")
	}
	return d, n, nil
}
