package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/blake2b"
	"lukechampine.com/blake3"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
)

func TestHash(t *testing.T) {
	for _, n := range []int{0, 1, verify.ChunkSize - 1, verify.ChunkSize, 3*verify.ChunkSize + 17} {
		b := bytes.Repeat([]byte{0xab, 0x01, 0x7f}, n/3+1)[:n]
		want := sha256.Sum256(b)
		var done atomic.Int64
		d, err := verify.Hash(context.Background(), bytes.NewReader(b), int64(n), func(k int64) { done.Add(k) })
		require.NoError(t, err)
		assert.Equal(t, verify.Digest(want), d, "n=%d", n)
		assert.Equal(t, int64(n), done.Load())
		b2, err := verify.BLAKE2b.Sum(context.Background(), bytes.NewReader(b), int64(n), nil)
		require.NoError(t, err)
		want2 := blake2b.Sum512(b)
		assert.Equal(t, want2[:], b2, "n=%d", n)
		b3, err := verify.BLAKE3.Sum(context.Background(), bytes.NewReader(b), int64(n), nil)
		require.NoError(t, err)
		want3 := blake3.Sum256(b)
		assert.Equal(t, want3[:], b3, "n=%d", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := verify.Hash(ctx, bytes.NewReader(make([]byte, 10)), 10, nil)
	assert.ErrorIs(t, err, context.Canceled)
	for _, a := range []verify.Algorithm{verify.SHA256, verify.BLAKE3, verify.BLAKE2b} {
		_, err = a.Sum(context.Background(), bytes.NewReader(make([]byte, 10)), 20, nil)
		assert.Equal(t, formats.KindIO, formats.KindOf(err), "%s: a file shorter than its size is an I/O error", a)
	}
}

func TestParseDigest(t *testing.T) {
	d, err := verify.ParseDigest(strings.Repeat("AB", 32))
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("ab", 32), d.String())
	for _, s := range []string{"", "ab", strings.Repeat("g", 64), strings.Repeat("a", 65)} {
		_, err := verify.ParseDigest(s)
		assert.Equal(t, formats.KindMalformed, formats.KindOf(err), s)
	}
}

// TestHashTreeMatchesSHA256Sum hashes a tree in parallel and checks each
// digest against coreutils' sha256sum where it is installed.
func TestHashTree(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"a.safetensors": []byte("aaa"), "sub/b.npz": bytes.Repeat([]byte("b"), 3<<20), "sub/deeper/c": nil, "z": []byte("z")}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	var done atomic.Int64
	got, err := verify.HashTree(context.Background(), dir, verify.SHA256, func(k int64) { done.Add(k) })
	require.NoError(t, err)
	var names []string
	for _, fd := range got {
		names = append(names, fd.Name)
		require.NotNil(t, fd.SHA256, fd.Name)
		assert.Nil(t, fd.BLAKE3, "only the algorithm asked for")
		assert.Equal(t, verify.Digest(sha256.Sum256(files[fd.Name])), *fd.SHA256, fd.Name)
		assert.Equal(t, int64(len(files[fd.Name])), fd.Size)
	}
	assert.Equal(t, []string{"a.safetensors", "sub/b.npz", "sub/deeper/c", "z"}, names, "sorted")
	assert.Equal(t, int64(3+3<<20+1), done.Load())

	if _, err := exec.LookPath("sha256sum"); err == nil {
		out, err := exec.Command("sha256sum", filepath.Join(dir, "sub", "b.npz")).Output()
		require.NoError(t, err)
		assert.Equal(t, got[1].SHA256.String(), strings.Fields(string(out))[0])
	}

	require.NoError(t, os.Symlink("a.safetensors", filepath.Join(dir, "link")))
	_, err = verify.HashTree(context.Background(), dir, verify.SHA256, nil)
	assert.Equal(t, formats.KindPathTraversal, formats.KindOf(err))
}

// TestSumModels hashes several models at once, a file and a directory,
// with one pool of workers, as `hash A B …` does: every file of every model
// gets its digest, and a failing file fails the whole.
func TestSumModels(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "one.bin")
	require.NoError(t, os.WriteFile(one, bytes.Repeat([]byte("1"), 1<<20), 0o644))
	tree := filepath.Join(dir, "tree")
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "sub"), 0o755))
	files := map[string][]byte{"a": []byte("a"), "sub/b": bytes.Repeat([]byte("b"), 3<<20), "e": nil}
	for name, b := range files {
		require.NoError(t, os.WriteFile(filepath.Join(tree, filepath.FromSlash(name)), b, 0o644))
	}
	m1, err := verify.ListModel(one)
	require.NoError(t, err)
	m2, err := verify.ListModel(tree)
	require.NoError(t, err)
	require.NoError(t, verify.SumModels(context.Background(), verify.BLAKE3, m1, m2))
	require.Len(t, m1.Files, 1)
	require.NotNil(t, m1.Files[0].BLAKE3)
	want, err := verify.BLAKE3.Sum(context.Background(), bytes.NewReader(bytes.Repeat([]byte("1"), 1<<20)), 1<<20, nil)
	require.NoError(t, err)
	assert.Equal(t, want, m1.Files[0].BLAKE3[:])
	require.Len(t, m2.Files, len(files))
	for _, f := range m2.Files {
		require.NotNil(t, f.BLAKE3, f.Name)
		want, err := verify.BLAKE3.Sum(context.Background(), bytes.NewReader(files[f.Name]), int64(len(files[f.Name])), nil)
		require.NoError(t, err)
		assert.Equal(t, want, f.BLAKE3[:], f.Name)
		assert.Nil(t, f.SHA256, "only the algorithm asked for")
	}

	require.NoError(t, os.Remove(filepath.Join(tree, "a")))
	err = verify.SumModels(context.Background(), verify.SHA256, m1, m2)
	assert.Equal(t, formats.KindIO, formats.KindOf(err), "a file gone since it was listed: %v", err)
}

func TestSumLine(t *testing.T) {
	d := verify.Digest(sha256.Sum256(nil))
	assert.Equal(t, d.String()+"  model.safetensors\n", verify.SumLine(d, "model.safetensors"))
	assert.Equal(t, `\`+d.String()+`  a\nb\\c`+"\n", verify.SumLine(d, "a\nb\\c"))
}

func TestParseSumsTaggedLinesNameTheirAlgorithm(t *testing.T) {
	h := strings.Repeat("3", 64)
	entries, err := verify.ParseSums(strings.NewReader(h+"  a\nBLAKE3 (b) = "+h+"\nSHA256 (c) = "+h+"\n"), verify.BLAKE3)
	require.NoError(t, err)
	require.Len(t, entries, 3)
	assert.NotNil(t, entries[0].BLAKE3, "untagged lines take the file's algorithm")
	assert.NotNil(t, entries[1].BLAKE3)
	assert.NotNil(t, entries[2].SHA256)
}

func TestParseSHA256Sums(t *testing.T) {
	h1, h2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	in := h1 + "  model.safetensors\n" + h2 + " *./shard-2.safetensors\r\n\n" +
		`\` + h1 + `  odd\nname\\x` + "\nSHA256 (tagged name) = " + h2 + "\n"
	entries, err := verify.ParseSums(strings.NewReader(in), verify.SHA256)
	require.NoError(t, err)
	require.Len(t, entries, 4)
	assert.Equal(t, "model.safetensors", entries[0].Name)
	assert.Equal(t, "./shard-2.safetensors", entries[1].Name)
	assert.Equal(t, "odd\nname\\x", entries[2].Name)
	assert.Equal(t, "tagged name", entries[3].Name)
	assert.Equal(t, h2, entries[3].SHA256.String())

	for _, bad := range []string{h1 + " model", h1[:63] + "  m", "zz  m", h1 + "\tm", `\` + h1 + `  a\q`} {
		_, err := verify.ParseSums(strings.NewReader(bad+"\n"), verify.SHA256)
		assert.Equal(t, formats.KindMalformed, formats.KindOf(err), bad)
		assert.Contains(t, err.Error(), "line 1")
	}
}

// sha and b3 are the digests of a file hashed by one algorithm.
func sha(name string, d verify.Digest) *verify.FileDigest {
	return &verify.FileDigest{Name: name, SHA256: &d}
}

func b3(name string, d verify.Digest) *verify.FileDigest {
	return &verify.FileDigest{Name: name, BLAKE3: &d}
}

func TestAllowlist(t *testing.T) {
	d1, d2, d3 := verify.Digest{1}, verify.Digest{2}, verify.Digest{3}
	a, err := verify.NewAllowlist(verify.NewEntry("./m.safetensors", verify.SHA256, d1), verify.NewEntry("", verify.SHA256, d2), verify.NewEntry("m.safetensors", verify.SHA256, d1))
	require.NoError(t, err)
	assert.NoError(t, a.Check(sha("m.safetensors", d1)))
	assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(a.Check(sha("m.safetensors", d2))), "a name's own digest wins over a nameless entry")
	assert.NoError(t, a.Check(sha("other.npz", d2)))
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(a.Check(sha("other.npz", d3))))

	_, err = verify.NewAllowlist(verify.NewEntry("m", verify.SHA256, d1), verify.NewEntry("m", verify.SHA256, d2))
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err))
	for _, name := range []string{"../m", "/abs", `a\b`, "a//b", "a/../b"} {
		_, err = verify.NewAllowlist(verify.NewEntry(name, verify.SHA256, d1))
		assert.Equal(t, formats.KindPathTraversal, formats.KindOf(err), name)
	}
	for _, e := range []verify.Entry{{Name: "m"}, {Name: "m", SHA256: &d1, BLAKE3: &d1}} {
		_, err = verify.NewAllowlist(e)
		assert.Equal(t, formats.KindMalformed, formats.KindOf(err), "one digest per entry")
	}
}

// TestAllowlistDigestsOfOneAlgorithmApproveOnlyThatAlgorithm: a BLAKE3
// entry is never satisfied by a SHA-256 digest with the same bytes, nor
// the other way round.
func TestAllowlistDigestsOfOneAlgorithmApproveOnlyThatAlgorithm(t *testing.T) {
	d := verify.Digest{7}
	a, err := verify.NewAllowlist(verify.NewEntry("m.safetensors", verify.BLAKE3, d), verify.NewEntry("", verify.BLAKE3, d))
	require.NoError(t, err)
	assert.Equal(t, []verify.Algorithm{verify.BLAKE3}, a.Algorithms())
	assert.NoError(t, a.Check(b3("m.safetensors", d)))
	assert.NoError(t, a.Check(b3("other", d)))
	assert.Equal(t, formats.KindUnsupported, formats.KindOf(a.Check(sha("m.safetensors", d))), "not hashed with blake3")
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(a.Check(sha("other", d))))
	assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(a.Check(b3("m.safetensors", verify.Digest{8}))))
}

func TestParseLFSPointer(t *testing.T) {
	h := strings.Repeat("a", 64)
	d, n, err := verify.ParseLFSPointer(strings.NewReader("version https://git-lfs.github.com/spec/v1\noid sha256:" + h + "\nsize 4294967296\n"))
	require.NoError(t, err)
	assert.Equal(t, h, d.String())
	assert.Equal(t, int64(1<<32), n)
	for _, bad := range []string{
		"version https://git-lfs.github.com/spec/v1\noid sha256:" + h + "\n",
		"version https://git-lfs.github.com/spec/v1\noid md5:" + h + "\nsize 1\n",
		"version https://git-lfs.github.com/spec/v1\noid sha256:" + h + "\nsize -1\n",
		"version https://git-lfs.github.com/spec/v1\noid sha256:" + h + "\nsize 01\n",
		"version 2\noid sha256:" + h + "\nsize 1\n",
		strings.Repeat("x", 2000),
	} {
		_, _, err := verify.ParseLFSPointer(strings.NewReader(bad))
		assert.Equal(t, formats.KindMalformed, formats.KindOf(err), bad)
	}
}

func TestPolicy(t *testing.T) {
	dir := t.TempDir()
	h := strings.Repeat("c", 64)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(h+"  shard.safetensors\n"), 0o644))
	p, err := verify.ParsePolicy([]byte(`
version: 1
formats: [safetensors, npz]
limits: {max_file_bytes: 200GiB, max_tensors: 200000, max_header_bytes: 1 MiB}
digests:
  - {name: model.safetensors, sha256: "`+strings.Repeat("d", 64)+`"}
digest_files: [SHA256SUMS]
require: [digest]
`), dir)
	require.NoError(t, err)
	assert.True(t, p.Requires(verify.RequireDigest))
	assert.False(t, p.Requires(verify.RequireSignature))
	assert.True(t, p.AllowsFormat(formats.FormatNpz))
	assert.False(t, p.AllowsFormat(formats.FormatNpy))
	assert.Equal(t, int64(200000), p.FormatLimits().MaxTensors)
	assert.Equal(t, int64(1<<20), p.FormatLimits().MaxHeaderBytes)
	assert.Equal(t, formats.DefaultLimits().MaxRank, p.FormatLimits().MaxRank)
	a, err := p.AllowlistFor(dir)
	require.NoError(t, err)
	assert.Equal(t, 2, a.Len())
	assert.NoError(t, a.Check(sha("shard.safetensors", verify.Digest(bytes.Repeat([]byte{0xcc}, 32)))))
	assert.Equal(t, formats.KindLimitExceeded, formats.KindOf(p.CheckFileSize("x", 201<<30)))
	assert.NoError(t, p.CheckFileSize("x", 1<<30))
}

func TestPolicyRefusals(t *testing.T) {
	h := strings.Repeat("e", 64)
	for _, tc := range []struct{ name, yaml, msg string }{
		{"empty", ``, "says nothing"},
		{"unknown key", "formats: [npy]\nallow_pickle: true\n", `unknown field "allow_pickle"`},
		{"unknown nested key", "limits: {max_tensor: 5}\n", `unknown field "max_tensor"`},
		{"duplicate key", "formats: [npy]\nformats: [npz]\n", "already defined"},
		{"pickle format", "formats: [pickle]\n", `"pickle" cannot be loaded safely`},
		{"format twice", "formats: [npy, npy]\n", "listed twice"},
		{"bad size", "limits: {max_file_bytes: 12 parsecs}\n", "not a number"},
		{"negative", "limits: {max_tensors: -1}\n", "negative"},
		{"bad digest", "digests: [{sha256: xyz}]\n", "not 64 hex digits"},
		{"traversal name", "digests: [{name: ../x, sha256: " + h + "}]\n", "not a clean relative path"},
		{"require digest without digests", "require: [digest]\n", "no digests"},
		{"require signature without signers", "require: [signature]\n", "names no identity"},
		{"unknown requirement", "require: [vibes]\n", `"vibes" is not digest or signature`},
		{"version 2", "version: 2\nformats: [npy]\n", "version 2"},
		{"identity without issuer", "signatures: {identities: [{subject: a}]}\n", "needs an issuer"},
		{"identity with both", "signatures: {identities: [{issuer: i, subject: a, subject_regexp: b}]}\n", "exactly one"},
		{"bad regexp", "signatures: {identities: [{issuer: i, subject_regexp: '('}]}\n", "subject_regexp"},
		{"empty signatures", "signatures: {trusted_root: r.json}\n", "at least one identity"},
		{"missing digest file", "digest_files: [nope]\n", "nope"},
		{"unknown digest algorithm", "digest_algorithms: [md5]\n", `"md5" is not sha256, blake3 or blake2b`},
		{"digest algorithm twice", "digest_algorithms: [blake3, blake3]\n", "listed twice"},
		{"a digest the algorithms exclude", "digest_algorithms: [blake3]\ndigests: [{sha256: " + h + "}]\n", "a sha256 digest, and digest_algorithms allows [blake3]"},
		{"both digests in one entry", "digests: [{name: m, sha256: " + h + ", blake3: " + h + "}]\n", "one digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify.ParsePolicy([]byte(tc.yaml), t.TempDir())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

// TestPolicySchemaMatchesStruct keeps policy.schema.json and the Go types
// in step: every YAML key is in the schema and the other way round.
func TestPolicySchemaMatchesStruct(t *testing.T) {
	raw, err := os.ReadFile("policy.schema.json")
	require.NoError(t, err)
	var schema struct {
		Properties map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(raw, &schema))
	keys := func(v any) []string {
		var out []string
		ty := reflect.TypeOf(v)
		for i := range ty.NumField() {
			if tag := ty.Field(i).Tag.Get("yaml"); tag != "" {
				out = append(out, strings.Split(tag, ",")[0])
			}
		}
		return out
	}
	schemaKeys := func(m map[string]json.RawMessage) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		return out
	}
	var top []string
	for k := range schema.Properties {
		top = append(top, k)
	}
	assert.ElementsMatch(t, keys(verify.Policy{}), top)
	assert.ElementsMatch(t, keys(verify.PolicyLimits{}), schemaKeys(schema.Properties["limits"].Properties))
	assert.ElementsMatch(t, keys(verify.Signatures{}), schemaKeys(schema.Properties["signatures"].Properties))
}

// TestReadDigestFile: one reading of checksum files for the CLI and the
// policy (issue 22, finding 2): names relative to the file's own
// directory, the algorithm the caller chose (never the file's name), a
// Git LFS pointer for the file of its own name, and a file that approves
// nothing, or nothing in the model, refused as a configuration error.
func TestReadDigestFile(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	require.NoError(t, os.MkdirAll(filepath.Join(model, "sub"), 0o755))
	h := strings.Repeat("b", 64)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	ptr := write("model.safetensors", "version https://git-lfs.github.com/spec/v1\noid sha256:"+h+"\nsize 5\n")
	df, err := verify.ReadDigestFile(ptr, verify.SHA256)
	require.NoError(t, err)
	e, err := df.For(model)
	require.NoError(t, err)
	assert.Equal(t, []verify.Entry{verify.NewEntry("", verify.SHA256, mustDigest(t, h))}, e, "a pointer states content, under any name")

	sums := write("bloom-1b3.sha256", h+"  model/sub/a.npz\n"+h+"  elsewhere/b.npz\n")
	df, err = verify.ReadDigestFile(sums, verify.SHA256)
	require.NoError(t, err)
	e, err = df.For(model)
	require.NoError(t, err)
	require.Len(t, e, 1, "names outside the model are dropped")
	assert.Equal(t, "sub/a.npz", e[0].Name, "relative to the file's directory, rebased onto the model")
	assert.NotNil(t, e[0].SHA256, "the caller's algorithm: a name holding b3 says nothing")
	df, err = verify.ReadDigestFile(sums, verify.BLAKE3)
	require.NoError(t, err)
	e, err = df.For(model)
	require.NoError(t, err)
	assert.NotNil(t, e[0].BLAKE3)

	for name, tc := range map[string]struct {
		body, model string
		kind        formats.Kind
	}{
		"an empty file approves nothing":    {"", model, formats.KindUsage},
		"a file of blank lines":             {"\n\n", model, formats.KindUsage},
		"no name lies in the model":         {h + "  elsewhere/b.npz\n", model, formats.KindUsage},
		"a line that is no checksum line":   {"hello\n", model, formats.KindMalformed},
		"a name that climbs out is outside": {h + "  ../x\n", model, formats.KindUsage},
	} {
		t.Run(name, func(t *testing.T) {
			df, err := verify.ReadDigestFile(write("SUMS", tc.body), verify.SHA256)
			if err == nil {
				_, err = df.For(tc.model)
			}
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
		})
	}
	_, err = verify.ReadDigestFile(filepath.Join(dir, "nope"), verify.SHA256)
	assert.Equal(t, formats.KindIO, formats.KindOf(err))
	_, err = verify.ReadDigestFile(sums, verify.BLAKE2b)
	assert.Equal(t, formats.KindUsage, formats.KindOf(err))

	// The policy reads its digest files the same way.
	write("policy-sums", h+"  model/sub/c.npz\n")
	pol, err := verify.ParsePolicy([]byte("digest_files: [policy-sums]\nblake3_files: [bloom-1b3.sha256]\nrequire: [digest]\n"), dir)
	require.NoError(t, err)
	a, err := pol.AllowlistFor(model)
	require.NoError(t, err)
	assert.NoError(t, a.Check(sha("sub/c.npz", mustDigest(t, h))))
	assert.ElementsMatch(t, []verify.Algorithm{verify.SHA256, verify.BLAKE3}, a.Algorithms())
	write("empty-sums", "")
	_, err = verify.ParsePolicy([]byte("digest_files: [empty-sums]\n"), dir)
	assert.Equal(t, formats.KindUsage, formats.KindOf(err), "an empty digest file in a policy")
}

func mustDigest(t testing.TB, s string) verify.Digest {
	d, err := verify.ParseDigest(s)
	require.NoError(t, err)
	return d
}

// TestPolicySignaturesNeedTheSignaturePackage: a program that does not
// import verify/signature (this test binary) reads a policy's signatures
// section, and refuses to build its checks (kind usage) rather than
// ignore the signatures it cannot check.
func TestPolicySignaturesNeedTheSignaturePackage(t *testing.T) {
	p, err := verify.ParsePolicy([]byte("signatures: {keys: [cosign.pub]}\nrequire: [signature]\n"), t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, []string{"cosign.pub"}, p.Signatures.Keys)
	_, err = p.Checks()
	assert.Equal(t, formats.KindUsage, formats.KindOf(err))
	assert.ErrorContains(t, err, "links no signature verifier")
}
