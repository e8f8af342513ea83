//go:build !modelgate_lean

package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	ocilayout "oras.land/oras-go/v2/content/oci"

	"github.com/modelgate/modelgate/internal/testregistry"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/loader/oci"
)

// ociLayer is a layer to push: media type, bytes, file name (raw layers).
type ociLayer struct {
	mt   string
	b    []byte
	name string
}

// pushArtifact pushes an artifact of type artifactType (ModelPack's
// config) with layers to repo:tag with oras-go, and returns its digest.
func pushArtifact(t *testing.T, r *testregistry.Registry, repo, tag, artifactType string, layers ...ociLayer) string {
	t.Helper()
	return packArtifact(t, r.Repository(t, repo), tag, artifactType, layers...)
}

// packArtifact writes the artifact pushArtifact pushes to dst (a
// repository or an image layout).
func packArtifact(t *testing.T, dst oras.Target, tag, artifactType string, layers ...ociLayer) string {
	t.Helper()
	ctx := context.Background()
	push := func(mt string, b []byte, ann map[string]string) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mt, b)
		d.Annotations = ann
		if ok, err := dst.Exists(ctx, d); err != nil || !ok { // a layout refuses a blob twice
			require.NoError(t, dst.Push(ctx, d, bytes.NewReader(b)))
		}
		return d
	}
	var descs []ocispec.Descriptor
	for _, l := range layers {
		var ann map[string]string
		if l.name != "" {
			ann = map[string]string{oci.AnnotationFilepath: l.name, ocispec.AnnotationTitle: l.name}
		}
		descs = append(descs, push(l.mt, l.b, ann))
	}
	cfg := push(oci.MediaTypeModelConfig, []byte(`{"descriptor":{"name":"scan"},"modelfs":{"type":"layers","diffIds":[]},"config":{}}`), nil)
	man, err := oras.PackManifest(ctx, dst, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{Layers: descs, ConfigDescriptor: &cfg})
	require.NoError(t, err)
	require.NoError(t, dst.Tag(ctx, man, tag))
	return man.Digest.String()
}

// stFile is a valid one-tensor safetensors file, its tensor named name.
func stFile(name string) []byte {
	h := []byte(`{"` + name + `":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`)
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := append([]byte{byte(len(h)), 0, 0, 0, 0, 0, 0, 0}, h...)
	return append(out, make([]byte, 8)...)
}

const rawWeight = "application/vnd.cncf.model.weight.v1.raw"

// slipTar is a tar layer whose entry climbs out of its root.
func slipTar(t *testing.T) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	w := stFile("w")
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "../model.safetensors", Mode: 0o644, Size: int64(len(w)), Typeflag: tar.TypeReg}))
	_, err := tw.Write(w)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	return b.Bytes()
}

// scanRegistry is a registry holding accepted, refused and signature
// tags in three repositories; want maps each tag's path to its verdict
// ("accepted", "ignored" or the refusal's kind).
type scanRegistry struct {
	r    *testregistry.Registry
	want map[string]string
}

func newScanRegistry(t *testing.T) *scanRegistry {
	r := testregistry.Start(t)
	r.DockerConfig(t, r.Host)
	pickle, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pickle", "proto4.pkl"))
	require.NoError(t, err)
	s := &scanRegistry{r: r, want: map[string]string{}}
	add := func(repo, tag, verdict, artifactType string, layers ...ociLayer) string {
		d := pushArtifact(t, r, repo, tag, artifactType, layers...)
		s.want["oci://"+r.Host+"/"+repo+":"+tag+"@"+d] = verdict
		return d
	}
	for i := range 6 {
		add("models/llama", fmt.Sprintf("v%d", i), "accepted", oci.ArtifactTypeModelPack, ociLayer{rawWeight, stFile(fmt.Sprintf("w%d", i)), "model.safetensors"})
	}
	add("models/llama", "pickled", "pickle", oci.ArtifactTypeModelPack, ociLayer{rawWeight, pickle, "pytorch_model.bin"})
	add("models/llama", "slip", "path-traversal", oci.ArtifactTypeModelPack, ociLayer{"application/vnd.cncf.model.weight.v1.tar", slipTar(t), ""})
	add("other/thing", "latest", "unsupported", "application/vnd.example.not-a-model", ociLayer{"application/vnd.example.blob", []byte("hello"), "x"})
	signed := add("team/mistral", "v1", "accepted", oci.ArtifactTypeModelPack, ociLayer{rawWeight, stFile("m"), "model.safetensors"})
	// cosign's older scheme: a manifest of simple-signing layers tagged
	// sha256-HEX.sig; ignored for what it holds, not for its name.
	sigTag := strings.Replace(signed, ":", "-", 1) + ".sig"
	add("team/mistral", sigTag, "ignored", "", ociLayer{"application/vnd.dev.cosign.simplesigning.v1+json",
		[]byte(`{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"` + signed + `"},"type":"cosign container image signature"},"optional":null}`), ""})
	// A model under a signature-like tag name is gated all the same.
	add("team/mistral", strings.Replace(signed, ":", "-", 1)+".att", "pickle", oci.ArtifactTypeModelPack, ociLayer{rawWeight, pickle, "model.bin"})
	// One pushed by the real oras CLI.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), stFile("o"), 0o644))
	cmd := exec.Command(testregistry.Oras(t), "push", "--plain-http", "-u", r.User, "-p", r.Pass,
		r.Host+"/team/oras:v1", "--artifact-type", oci.ArtifactTypeModelPack, "model.safetensors:"+rawWeight)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	d, err := oci.Resolve(context.Background(), oci.Tagged{Registry: r.Host, Repository: "team/oras", Tag: "v1"})
	require.NoError(t, err)
	s.want["oci://"+r.Host+"/team/oras:v1@"+d.Manifest.Digest.String()] = "accepted"
	return s
}

// scanJSON is scan --json's output.
type scanJSON struct {
	OK    bool                `json:"ok"`
	Files []loader.ScanResult `json:"files"`
	Error struct{ Kind string }
}

func runScanJSON(t *testing.T, args ...string) (int, scanJSON) {
	t.Helper()
	code, out, errs := cliRun(append([]string{"scan", "--json"}, args...)...)
	var res scanJSON
	require.NoError(t, json.Unmarshal([]byte(out), &res), "%s\n%s", out, errs)
	return code, res
}

// verdicts maps each result's path to its verdict or refusal kind.
func verdicts(results []loader.ScanResult) map[string]string {
	m := map[string]string{}
	for _, r := range results {
		v := r.Verdict
		if v == loader.Refused {
			v = string(r.Kind)
		}
		m[r.Path] = v
	}
	return m
}

// scan oci://REGISTRY lists the catalog and every repository's tags, and
// gives each tag one result: its digest, and the verdict verify gives
// oci://REPO@DIGEST (checked by running verify on each). A refused tag
// stops nothing; the exit code and error name the most severe refusal.
func TestScanOCIGatesEveryTagAsVerify(t *testing.T) {
	s := newScanRegistry(t)
	code, res := runScanJSON(t, "oci://"+s.r.Host)
	assert.Equal(t, 1, code)
	assert.Equal(t, "pickle", res.Error.Kind)
	assert.Equal(t, s.want, verdicts(res.Files))
	for _, f := range res.Files {
		assert.Contains(t, f.Path, ":"+f.Tag+"@"+f.Digest, "the path names the tag and the digest it resolved to")
		if f.Verdict == loader.Ignored {
			continue
		}
		code, out, _ := cliRun("verify", "--json", f.Path)
		assert.Equal(t, string(f.Kind), jsonKind(t, out), "verify %s", f.Path)
		assert.Equal(t, map[bool]int{true: 0, false: 1}[f.Verdict == loader.Accepted], code, f.Path)
	}

	// One repository: its tags only; every one accepted exits 0.
	code, res = runScanJSON(t, "oci://"+s.r.Host+"/team/oras")
	assert.Equal(t, 0, code)
	require.Len(t, res.Files, 1)
	assert.Equal(t, "accepted", res.Files[0].Verdict)
	assert.Equal(t, "safetensors", string(res.Files[0].Format))

	// A repository the registry does not hold is one io refusal.
	code, res = runScanJSON(t, "oci://"+s.r.Host+"/no/such")
	assert.Equal(t, 3, code)
	require.Len(t, res.Files, 1)
	assert.Equal(t, "io", string(res.Files[0].Kind))

	// A signer required (verify's --key): no tag is signed by it, so each
	// model tag is not-allowlisted, but v1, whose cosign signature tag
	// carries no valid signature, is signature-invalid; the signature tag
	// stays ignored.
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	pub := filepath.Join(t.TempDir(), "release.pub")
	require.NoError(t, os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	code, res = runScanJSON(t, "--key", pub, "oci://"+s.r.Host+"/team/mistral")
	assert.Equal(t, 1, code)
	for _, f := range res.Files {
		switch {
		case s.want[f.Path] == "ignored":
			assert.Equal(t, "ignored", f.Verdict)
		case f.Tag == "v1":
			assert.Equal(t, "signature-invalid", string(f.Kind), f.Path)
		default:
			assert.Equal(t, "not-allowlisted", string(f.Kind), f.Path)
		}
	}
}

// The shards of a registry scan partition its tags: each tag in exactly
// one shard, for every N; the shards' JSON lines merge into the very
// SARIF (and JSON) an unsharded scan writes; a tag pushed between two
// runs of a shard moves no other tag.
func TestScanOCIShardsMergeToTheUnshardedScan(t *testing.T) {
	s := newScanRegistry(t)
	dir := t.TempDir()
	reg := "oci://" + s.r.Host
	wantCode, _, _ := cliRun("scan", "--sarif", filepath.Join(dir, "all.sarif"), "--jsonl", filepath.Join(dir, "all.jsonl"), reg)
	require.Equal(t, 1, wantCode)
	all, err := os.ReadFile(filepath.Join(dir, "all.sarif"))
	require.NoError(t, err)
	_, unsharded := runScanJSON(t, reg)

	for _, n := range []int{1, 3, 7} {
		var files []string
		union := map[string]int{}
		for i := range n {
			f := filepath.Join(dir, fmt.Sprintf("n%d-shard-%d.jsonl", n, i))
			code, _, errs := cliRun("scan", "--shard", fmt.Sprintf("%d/%d", i, n), "--jsonl", f, reg)
			require.Contains(t, []int{0, 1}, code, errs)
			res, _, err := readShard(f)
			require.NoError(t, err)
			for _, r := range res {
				union[r.Path]++
			}
			files = append(files, f)
		}
		for p, c := range union {
			assert.Equal(t, 1, c, "%s in %d shards of %d", p, c, n)
		}
		assert.Equal(t, len(s.want), len(union), "the shards of %d cover every tag", n)
		for p := range s.want {
			assert.Contains(t, union, p)
		}
		merged := filepath.Join(dir, fmt.Sprintf("n%d.sarif", n))
		slices.Reverse(files) // the order of the files does not matter
		code, _, errs := cliRun(append([]string{"scan", "--merge", "--sarif", merged}, files...)...)
		assert.Equal(t, wantCode, code, errs)
		got, err := os.ReadFile(merged)
		require.NoError(t, err)
		assert.Equal(t, string(all), string(got), "merged SARIF of %d shards", n)
		_, m := runScanJSON(t, append([]string{"--merge"}, files...)...)
		assert.Equal(t, unsharded, m)
	}

	// Stable while tags are added: shard 1/3 keeps every tag it had.
	before := filepath.Join(dir, "before.jsonl")
	after := filepath.Join(dir, "after.jsonl")
	cliRun("scan", "--shard", "1/3", "--jsonl", before, reg)
	for i := range 8 {
		pushArtifact(t, s.r, "models/llama", fmt.Sprintf("new%d", i), oci.ArtifactTypeModelPack, ociLayer{rawWeight, stFile("n"), "model.safetensors"})
	}
	cliRun("scan", "--shard", "1/3", "--jsonl", after, reg)
	b, _, err := readShard(before)
	require.NoError(t, err)
	a, _, err := readShard(after)
	require.NoError(t, err)
	for _, r := range b {
		assert.Contains(t, verdicts(a), r.Path)
	}
}

// A repository whose tags do not list (a registry, or a proxy in front of
// it, refusing the request) is one io result; the catalog's other
// repositories are still listed and gated, and a shard owns the failure
// as it owns a tag, so the merge stays whole.
func TestScanOCIRepositoryThatDoesNotListStopsNothing(t *testing.T) {
	r := testregistry.Start(t)
	good := pushArtifact(t, r, "models/good", "v1", oci.ArtifactTypeModelPack, ociLayer{rawWeight, stFile("g"), "model.safetensors"})
	pushArtifact(t, r, "models/hidden", "v1", oci.ArtifactTypeModelPack, ociLayer{rawWeight, stFile("h"), "model.safetensors"})
	upstream, err := url.Parse("http://" + r.Host)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/v2/models/hidden/tags/list" {
			http.Error(w, `{"errors":[{"code":"DENIED","message":"no"}]}`, http.StatusForbidden)
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	r.DockerConfig(t, host)

	code, res := runScanJSON(t, "oci://"+host)
	assert.Equal(t, 3, code)
	assert.Equal(t, map[string]string{
		"oci://" + host + "/models/good:v1@" + good: "accepted",
		"oci://" + host + "/models/hidden":          "io",
	}, verdicts(res.Files))

	dir := t.TempDir()
	var files []string
	for i := range 2 {
		f := filepath.Join(dir, fmt.Sprintf("%d.jsonl", i))
		cliRun("scan", "--shard", fmt.Sprintf("%d/2", i), "--jsonl", f, "oci://"+host)
		files = append(files, f)
	}
	code, merged := runScanJSON(t, append([]string{"--merge"}, files...)...)
	assert.Equal(t, 3, code)
	assert.Equal(t, res, merged)
}

// A layout directory whose name holds a backslash and a byte that is not
// UTF-8 (which JSON lines carry escaped) merges back to the very report
// the unsharded scan writes: SARIF byte for byte, --json equal.
func TestScanOCIMergeOfAnOddlyNamedLayoutIsExact(t *testing.T) {
	dir := t.TempDir()
	layout := filepath.Join(dir, `lay\out`+"\xff"+`\x41`)
	store, err := ocilayout.New(layout)
	require.NoError(t, err)
	for i := range 4 {
		packArtifact(t, store, fmt.Sprintf("ok%d", i), oci.ArtifactTypeModelPack, ociLayer{rawWeight, stFile(fmt.Sprintf("t%d", i)), "model.safetensors"})
	}
	packArtifact(t, store, "unknown", oci.ArtifactTypeModelPack, ociLayer{rawWeight, []byte("not a model\\\xfe"), "w\\x\xfe.bin"})
	scope := "oci-layout:" + layout

	wantCode, _, errs := cliRun("scan", "--sarif", filepath.Join(dir, "all.sarif"), scope)
	require.Equal(t, 1, wantCode, errs)
	all, err := os.ReadFile(filepath.Join(dir, "all.sarif"))
	require.NoError(t, err)
	require.Contains(t, string(all), "lay%5Cout%FF%5Cx41", "the SARIF URI is the directory's own name")
	_, unsharded := runScanJSON(t, scope)
	require.Len(t, unsharded.Files, 5)

	var files []string
	for i := range 3 {
		f := filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", i))
		code, _, errs := cliRun("scan", "--shard", fmt.Sprintf("%d/3", i), "--jsonl", f, scope)
		require.Contains(t, []int{0, 1}, code, errs)
		files = append(files, f)
	}
	merged := filepath.Join(dir, "merged.sarif")
	code, _, errs := cliRun(append([]string{"scan", "--merge", "--sarif", merged}, files...)...)
	require.Equal(t, wantCode, code, errs)
	got, err := os.ReadFile(merged)
	require.NoError(t, err)
	assert.Equal(t, string(all), string(got))
	_, m := runScanJSON(t, append([]string{"--merge"}, files...)...)
	assert.Equal(t, unsharded, m)

	// The text says what was scanned: artifacts, not files, also merged.
	for _, args := range [][]string{{scope}, append([]string{"--merge"}, files...)} {
		code, out, errs := cliRun(append([]string{"scan"}, args...)...)
		assert.Equal(t, 1, code)
		assert.Regexp(t, `(?m)^5 artifacts: 4 accepted, 1 refused, 0 ignored$`, out)
		assert.Contains(t, errs, ": 1 of 5 artifacts refused; the most severe: ")
	}
}
