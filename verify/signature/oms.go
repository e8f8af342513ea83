package signature

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/workpool"
	"github.com/modelgate/modelgate/verify"
)

// The predicate types of OpenSSF Model Signing (model_signing).
const (
	PredicateOMSv1    = "https://model_signing/signature/v1.0"
	PredicateLegacy01 = "https://model_signing/Digests/v0.1"
	inTotoStatementV1 = "https://in-toto.io/Statement/v1"
	inTotoPayloadType = "application/vnd.in-toto+json"
)

// DefaultIgnorePaths are left out of a model's manifest as model_signing
// leaves them out by default (hashing.Config, ignore_git_paths): git
// metadata at the model's top. The bundle actually used is left out too,
// and only it (see SignOptions.Bundle and VerifyModel).
var DefaultIgnorePaths = []string{".git", ".gitattributes", ".github", ".gitignore"}

// defaultBundleName is where a bundle goes inside a model directory.
const defaultBundleName = "model.sig"

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
	method    string           // files or shards
	alg       verify.Algorithm // of every resource
	shardSize int64
	ignore    []string
	resources map[string]string // name -> hex digest
	order     []string          // resource names as the predicate lists them
	root      string            // subject digest (hex); "" for legacy
}

// parseStatement reads an in-toto statement with a model_signing
// predicate. It refuses unknown predicate types, hash types and
// serializations; a resource whose algorithm is not the one its
// serialization computes, whose digest is not of that algorithm's length,
// whose name is not a clean path inside the model (with the shard form
// "path:start:end" for shards), or that is listed twice; and a subject
// digest that is not the SHA-256 of the resource digests in the order the
// predicate lists them, which model_signing checks before anything else.
func parseStatement(rb *rawBundle) (*manifest, error) {
	st := rb.statement
	if st == nil {
		return nil, sigErr("payload is not an in-toto statement: %v", rb.statementErr)
	}
	if st.Type != inTotoStatementV1 {
		return nil, sigErr("statement type %q is not in-toto Statement v1", st.Type)
	}
	m := &manifest{resources: map[string]string{}, alg: verify.SHA256}
	switch st.PredicateType {
	case PredicateLegacy01:
		m.legacy, m.method = true, "files"
		for _, s := range st.Subject {
			if err := m.add(s.Name, verify.SHA256.String(), s.Digest["sha256"]); err != nil {
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
	m.root = strings.ToLower(st.Subject[0].Digest["sha256"])
	var p omsPredicate
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return nil, sigErr("model_signing predicate: %v", err)
	}
	if err := m.serialization(p); err != nil {
		return nil, err
	}
	for _, r := range p.Resources {
		if err := m.add(r.Name, r.Algorithm, r.Digest); err != nil {
			return nil, err
		}
	}
	if root := rootDigest(m.order, m.resources); root != m.root {
		return nil, sigErr("the manifest is inconsistent: its subject digest is %s, and its resources hash to %s", m.root, root)
	}
	return m, nil
}

// serialization reads the predicate's serialization: method files or
// shards, and hash type sha256, blake2 (BLAKE2b-512; model_signing writes
// "blake2b") or blake3. model_signing verifies a blake3 "shards" manifest
// as a files one (its use_shard_serialization falls back to files for
// BLAKE3, which it hashes on every core already), and so does modelgate.
func (m *manifest) serialization(p omsPredicate) error {
	s := p.Serialization
	alg, err := verify.ParseAlgorithm(s.HashType)
	if err != nil {
		return formats.Errorf(formats.KindUnsupported, formats.NoOffset, "manifest hash type %q; modelgate checks sha256, blake2 and blake3", s.HashType).WithField("hash_type")
	}
	m.alg, m.method, m.ignore = alg, s.Method, s.IgnorePaths
	switch {
	case s.Method == "files", s.Method == "shards" && alg == verify.BLAKE3:
		m.method = "files"
	case s.Method == "shards":
		// JSON numbers are floats; model_signing writes 8.0 for 8.
		if !(s.ShardSize >= 1 && s.ShardSize < 1<<62) || s.ShardSize != float64(int64(s.ShardSize)) {
			return sigErr("shard size %v is not a positive integer", s.ShardSize)
		}
		m.shardSize = int64(s.ShardSize)
	default:
		return formats.Errorf(formats.KindUnsupported, formats.NoOffset, "manifest serialization %q", s.Method).WithField("method")
	}
	return nil
}

// resourceAlgorithm is the algorithm name model_signing records for each
// resource of the serialization: the hash's name, suffixed for shards
// with the shard size ("sha256-sharded-1000000000").
func (m *manifest) resourceAlgorithm() string {
	if m.method == "shards" {
		return m.alg.String() + "-sharded-" + strconv.FormatInt(m.shardSize, 10)
	}
	return m.alg.String()
}

// hashType is the serialization's hash_type as modelgate writes it: the
// name model_signing's configuration takes ("blake2" for BLAKE2b, whose
// resources it names "blake2b"), so that its verifier, which rebuilds its
// configuration from this field, can read it.
func (m *manifest) hashType() string {
	if m.alg == verify.BLAKE2b {
		return "blake2"
	}
	return m.alg.String()
}

func (m *manifest) add(name, algorithm, digest string) error {
	file := name
	if m.method == "shards" {
		var ok bool
		if file, _, _, ok = parseShard(name); !ok {
			return sigErr("signed resource %q is not a shard \"path:start:end\"", name)
		}
	}
	if file != "." && !signedName(file) {
		return formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "signed resource %q is not a clean path inside the model", name)
	}
	if _, dup := m.resources[name]; dup {
		return sigErr("signed resource %q is listed twice", name)
	}
	if !m.legacy && algorithm != m.resourceAlgorithm() {
		return sigErr("signed resource %q has algorithm %q; a %s manifest by %s records %q", name, algorithm, m.method, m.alg, m.resourceAlgorithm())
	}
	if b, err := hex.DecodeString(digest); err != nil || len(b) != m.alg.Size() {
		return sigErr("signed resource %q has digest %q, not %d hex digits", name, digest, 2*m.alg.Size())
	}
	m.resources[name] = strings.ToLower(digest)
	m.order = append(m.order, name)
	return nil
}

// signedName reports whether a manifest's file name is a clean relative
// path: slash-separated, no "." or ".." element, no empty element. A
// backslash is an ordinary character of a POSIX name (model_signing signs
// `a\b.txt` as it finds it); on Windows, where it would separate
// names, it is refused.
func signedName(name string) bool {
	if runtime.GOOS == "windows" && strings.Contains(name, `\`) {
		return false
	}
	return fs.ValidPath(name) && name != "." && path.Clean(name) == name
}

// parseShard splits "path:start:end" (decimal offsets without signs or
// leading zeros, start <= end) as model_signing's Shard.from_str does,
// more strictly; like it, it refuses a path holding a colon (from_str
// splits on every colon and wants three parts).
func parseShard(name string) (file string, start, end int64, ok bool) {
	if strings.Count(name, ":") != 2 {
		return "", 0, 0, false
	}
	i := strings.LastIndexByte(name, ':')
	j := strings.LastIndexByte(name[:i], ':')
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 1 && s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	start, ok1 := num(name[j+1 : i])
	end, ok2 := num(name[i+1:])
	return name[:j], start, end, ok1 && ok2 && start <= end
}

// rootDigest is model_signing's subject digest: SHA-256 over the raw
// resource digests in the given order.
func rootDigest(order []string, resources map[string]string) string {
	h := sha256.New()
	for _, n := range order {
		d, _ := hex.DecodeString(resources[n])
		h.Write(d)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalOrder sorts resource names as model_signing's manifest does
// when it signs: files by path components, shards by path components,
// then start and end offsets as numbers.
func canonicalOrder(names []string, shards bool) []string {
	type key struct {
		parts      []string
		start, end int64
	}
	keys := make(map[string]key, len(names))
	for _, n := range names {
		k := key{}
		file := n
		if shards {
			file, k.start, k.end, _ = parseShard(n)
		}
		k.parts = strings.Split(file, "/")
		keys[n] = k
	}
	out := slices.Clone(names)
	slices.SortFunc(out, func(a, b string) int {
		ka, kb := keys[a], keys[b]
		if c := slices.Compare(ka.parts, kb.parts); c != 0 {
			return c
		}
		if c := cmp.Compare(ka.start, kb.start); c != 0 {
			return c
		}
		return cmp.Compare(ka.end, kb.end)
	})
	return out
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

// actualResources computes the manifest the model has, in the signature's
// serialization and algorithm, from the bytes md gives: every file, or
// every shard, hashed in parallel across the cores. Files under skip are
// left out (the signer's and verifier's ignore paths, each checked by the
// caller).
//
// Under shards an empty file has no shard, as model_signing records none:
// it is covered by nothing, and none is needed, for it has no byte to
// sign. A manifest that lists "name:0:0" (modelgate before it matched
// model_signing, and model_signing's PR #653) is honoured for an empty
// file it names.
func actualResources(ctx context.Context, md *verify.ModelDigests, m *manifest, skip func(verify.FileDigest) bool) (map[string]string, error) {
	type job struct {
		file   int
		name   string
		off, n int64
	}
	var jobs []job
	for i, f := range md.Files {
		if !md.Single && skip(f) {
			continue
		}
		name := f.Name
		if md.Single {
			name = "."
		}
		if m.method == "files" {
			jobs = append(jobs, job{i, name, 0, f.Size})
			continue
		}
		if _, listed := m.resources[name+":0:0"]; f.Size == 0 && listed {
			jobs = append(jobs, job{i, name + ":0:0", 0, 0})
		}
		for off := int64(0); off < f.Size; off += m.shardSize {
			end := min(f.Size, off+m.shardSize)
			jobs = append(jobs, job{i, name + ":" + strconv.FormatInt(off, 10) + ":" + strconv.FormatInt(end, 10), off, end - off})
		}
	}
	sums := make([][]byte, len(jobs))
	err := workpool.Run(ctx, len(jobs), func(k int) (err error) {
		j := jobs[k]
		sums[k], err = md.Sum(ctx, j.file, m.alg, j.off, j.n)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(jobs))
	for k, j := range jobs {
		out[j.name] = hex.EncodeToString(sums[k])
	}
	return out, nil
}

// signedFiles is the set of files the manifest's resources name (a shard
// "name:start:end" names its file).
func (m *manifest) signedFiles() map[string]bool {
	out := make(map[string]bool, len(m.resources))
	for n := range m.resources {
		out[m.resourceFile(n)] = true
	}
	return out
}

func (m *manifest) resourceFile(n string) string {
	if m.method == "shards" {
		for range 2 {
			if i := strings.LastIndexByte(n, ':'); i >= 0 {
				n = n[:i]
			}
		}
	}
	return n
}

// withoutAbsentExcused drops the signed resources of files that are not
// in the model and need not be: an excluded or ignored file may be
// absent (an exclusion says "need not be covered", never "must be
// absent" nor "must be present").
func (m *manifest) withoutAbsentExcused(md *verify.ModelDigests, ignore []string) map[string]string {
	present := make(map[string]bool, len(md.Files))
	for _, f := range md.Files {
		present[f.Name] = true
	}
	out := make(map[string]string, len(m.resources))
	for n, d := range m.resources {
		file := m.resourceFile(n)
		if !md.Single && !present[file] && (ignored(file, ignore) || md.Excused != nil && md.Excused(file)) {
			continue
		}
		out[n] = d
	}
	return out
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
