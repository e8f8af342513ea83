package verify

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/formats"
)

// Entry approves one digest, under a name or (Name == "") under any name.
// A name is a slash-separated path relative to the model's root; a single
// file is known by its base name.
type Entry struct {
	Name   string `json:"name,omitempty" yaml:"name,omitempty"`
	SHA256 Digest `json:"sha256" yaml:"sha256"`
}

// Allowlist is a set of approved digests.
type Allowlist struct {
	byName  map[string]Digest
	anyName map[Digest]bool
}

// NewAllowlist builds an allowlist, refusing names that are not clean
// relative paths and a name listed twice with different digests.
func NewAllowlist(entries ...Entry) (*Allowlist, error) {
	a := &Allowlist{byName: map[string]Digest{}, anyName: map[Digest]bool{}}
	for _, e := range entries {
		if e.Name == "" {
			a.anyName[e.SHA256] = true
			continue
		}
		name := strings.TrimPrefix(e.Name, "./")
		if !cleanName(name) {
			return nil, formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "allowlist name %q is not a clean relative path", e.Name)
		}
		if prev, ok := a.byName[name]; ok && prev != e.SHA256 {
			return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "allowlist lists %q twice, with different digests", name)
		}
		a.byName[name] = e.SHA256
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

// Merge returns an allowlist approving what a or b approves; a name both
// list must have the same digest in both.
func (a *Allowlist) Merge(b *Allowlist) (*Allowlist, error) {
	var entries []Entry
	for _, x := range []*Allowlist{a, b} {
		if x == nil {
			continue
		}
		for n, d := range x.byName {
			entries = append(entries, Entry{Name: n, SHA256: d})
		}
		for d := range x.anyName {
			entries = append(entries, Entry{SHA256: d})
		}
	}
	return NewAllowlist(entries...)
}

// Len returns how many entries the allowlist holds.
func (a *Allowlist) Len() int { return len(a.byName) + len(a.anyName) }

// Check decides whether the file name, whose content has digest d, is
// approved. A file listed by name must have that name's digest (else
// digest-mismatch); a file not listed by name is approved only by a
// nameless entry with its digest (else not-allowlisted).
func (a *Allowlist) Check(name string, d Digest) error {
	if want, ok := a.byName[name]; ok {
		if want != d {
			return formats.WithPath(formats.Errorf(formats.KindDigestMismatch, formats.NoOffset,
				"sha256 is %s; the allowlist approves %s", d, want), name)
		}
		return nil
	}
	if a.anyName[d] {
		return nil
	}
	return formats.WithPath(formats.Errorf(formats.KindNotAllowlisted, formats.NoOffset,
		"no allowlist entry approves this file (sha256 %s)", d), name)
}

// bsdLine is the tagged form `sha256sum --tag` and openssl print.
var bsdLine = regexp.MustCompile(`^SHA256 \((.*)\) = ([0-9a-fA-F]{64})$`)

// ParseSHA256Sums reads a sha256sum file: lines "HEX  name" or "HEX *name"
// (binary marker), GNU's escaped form "\HEX  name\nwith\\escapes", and the
// tagged form "SHA256 (name) = HEX". Any other line is refused with its
// line number; blank lines are allowed.
func ParseSHA256Sums(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, err := parseSumLine(line)
		if err != nil {
			return nil, formats.Errorf(formats.KindMalformed, formats.NoOffset, "line %d: %s", n, err).WithField("sha256sum")
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, formats.IOError(formats.NoOffset, err)
	}
	return out, nil
}

func parseSumLine(line string) (Entry, error) {
	if m := bsdLine.FindStringSubmatch(line); m != nil {
		d, err := ParseDigest(m[2])
		return Entry{Name: m[1], SHA256: d}, err
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
	return Entry{Name: name, SHA256: d}, nil
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
