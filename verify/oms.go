package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/formats"
)

// The predicate types of OpenSSF Model Signing (model_signing).
const (
	PredicateOMSv1    = "https://model_signing/signature/v1.0"
	PredicateLegacy01 = "https://model_signing/Digests/v0.1"
	inTotoStatementV1 = "https://in-toto.io/Statement/v1"
	inTotoPayloadType = "application/vnd.in-toto+json"
)

// DefaultIgnorePaths are left out of a model's manifest as model_signing
// leaves them out by default: the signature itself and git metadata.
var DefaultIgnorePaths = []string{"model.sig", ".git", ".gitattributes", ".github", ".gitignore"}

type statement struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type omsPredicate struct {
	Serialization struct {
		Method        string   `json:"method"`
		HashType      string   `json:"hash_type"`
		AllowSymlinks bool     `json:"allow_symlinks"`
		IgnorePaths   []string `json:"ignore_paths"`
		ShardSize     float64  `json:"shard_size"`
	} `json:"serialization"`
	Resources []resource `json:"resources"`
}

type resource struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Digest    string `json:"digest"`
}

// manifest is what a signature claims about the model: its resources and
// how they were computed.
type manifest struct {
	legacy    bool
	method    string // files or shards
	shardSize int64
	ignore    []string
	resources map[string]string // name -> hex digest
	root      string            // subject digest (hex); "" for legacy
}

// parseStatement reads an in-toto statement with a model_signing
// predicate, refusing unknown predicate types, hash types other than
// sha256, and resource names that are absolute, contain "..", a backslash
// or are listed twice.
func parseStatement(rb *rawBundle) (*manifest, error) {
	st := rb.statement
	if st == nil {
		return nil, sigErr("payload is not an in-toto statement: %v", rb.statementErr)
	}
	if st.Type != inTotoStatementV1 {
		return nil, sigErr("statement type %q is not in-toto Statement v1", st.Type)
	}
	m := &manifest{resources: map[string]string{}}
	switch st.PredicateType {
	case PredicateLegacy01:
		m.legacy, m.method = true, "files"
		for _, s := range st.Subject {
			if err := m.add(s.Name, s.Digest["sha256"]); err != nil {
				return nil, err
			}
		}
		return m, nil
	case PredicateOMSv1:
	default:
		return nil, sigErr("predicate type %q is not model_signing's", st.PredicateType)
	}
	if len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] == "" {
		return nil, sigErr("statement must have one subject with a sha256 digest")
	}
	m.root = st.Subject[0].Digest["sha256"]
	var p omsPredicate
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return nil, sigErr("model_signing predicate: %v", err)
	}
	s := p.Serialization
	if s.HashType != "sha256" {
		return nil, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "manifest hash type %q; modelgate checks sha256", s.HashType)
	}
	m.method, m.ignore = s.Method, s.IgnorePaths
	switch s.Method {
	case "files":
	case "shards":
		if s.ShardSize < 1 || s.ShardSize != float64(int64(s.ShardSize)) {
			return nil, sigErr("shard size %v is not a positive integer", s.ShardSize)
		}
		m.shardSize = int64(s.ShardSize)
	default:
		return nil, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "manifest serialization %q", s.Method)
	}
	for _, r := range p.Resources {
		if err := m.add(r.Name, r.Digest); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *manifest) add(name, digest string) error {
	file, _, _ := strings.Cut(name, ":")
	if m.method != "shards" {
		file = name
	}
	if file != "." && (!cleanName(file) || strings.HasPrefix(file, "/")) {
		return formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "signed resource %q is not a clean path inside the model", name)
	}
	if _, dup := m.resources[name]; dup {
		return sigErr("signed resource %q is listed twice", name)
	}
	if _, err := ParseDigest(digest); err != nil {
		return sigErr("signed resource %q has digest %q", name, digest)
	}
	m.resources[name] = strings.ToLower(digest)
	return nil
}

// rootDigest is model_signing's subject digest: SHA-256 over the raw
// resource digests in name order.
func rootDigest(resources map[string]string) string {
	names := make([]string, 0, len(resources))
	for n := range resources {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		d, _ := hex.DecodeString(resources[n])
		h.Write(d)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ignored reports whether name is, or lies below, one of the paths.
func ignored(name string, paths []string) bool {
	for _, p := range paths {
		p = strings.Trim(path.Clean(p), "/")
		if name == p || strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

// actualResources computes the manifest the model on disk has, in the
// signature's serialization: whole-file digests (taken from md) or shards
// (read again through an os.Root on the model). An ignore path leaves out
// only inert files: one that covers weights, code or a pickle leaves them
// in, so that they must be signed.
func actualResources(ctx context.Context, md *ModelDigests, m *manifest, ignore []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range md.Files {
		if !md.Single && f.Inert && ignored(f.Name, ignore) {
			continue
		}
		name := f.Name
		if md.Single {
			name = "."
		}
		if m.method == "files" {
			out[name] = f.SHA256.String()
			continue
		}
		if err := shardDigests(ctx, md, f, name, m.shardSize, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// shardDigests adds the digests of f's shards (empty files have none).
func shardDigests(ctx context.Context, md *ModelDigests, f FileDigest, name string, shard int64, out map[string]string) error {
	dir, rel := md.Root, f.Name
	if md.Single {
		dir, rel = path.Dir(md.Root), path.Base(md.Root)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return formats.IOError(formats.NoOffset, err)
	}
	defer root.Close()
	fh, err := root.Open(rel)
	if err != nil {
		return formats.WithPath(formats.IOError(formats.NoOffset, err), f.Name)
	}
	defer fh.Close()
	for off := int64(0); off < f.Size; off += shard {
		n := min(shard, f.Size-off)
		d, err := Hash(ctx, io.NewSectionReader(fh, off, n), n, nil)
		if err != nil {
			return formats.WithPath(err, f.Name)
		}
		out[name+":"+strconv.FormatInt(off, 10)+":"+strconv.FormatInt(off+n, 10)] = d.String()
	}
	return nil
}

// compareResources refuses a model whose files differ from the signed
// manifest: a signed file missing or changed, or a file not signed.
func compareResources(signed, actual map[string]string) error {
	var missing, extra, changed []string
	for n, d := range signed {
		switch a, ok := actual[n]; {
		case !ok:
			missing = append(missing, n)
		case a != d:
			changed = append(changed, n)
		}
	}
	for n := range actual {
		if _, ok := signed[n]; !ok {
			extra = append(extra, n)
		}
	}
	if len(missing)+len(extra)+len(changed) == 0 {
		return nil
	}
	slices.Sort(missing)
	slices.Sort(extra)
	slices.Sort(changed)
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"changed", changed}, {"missing", missing}, {"extra (not signed)", extra}} {
		if len(p.names) > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", p.what, strings.Join(p.names, ", ")))
		}
	}
	return formats.Errorf(formats.KindDigestMismatch, formats.NoOffset, "model differs from its signed manifest: %s", strings.Join(parts, "; "))
}
