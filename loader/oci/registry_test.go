package oci_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"oras.land/oras-go/v2"
	ocilayout "oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/testregistry"
	"github.com/modelgate/modelgate/loader/oci"
	"github.com/modelgate/modelgate/verify/signature"
)

// registry is a CNCF Distribution registry on 127.0.0.1 with one user.
type registry struct {
	host       string // 127.0.0.1:PORT
	user, pass string
}

// startRegistry starts the registry (internal/testregistry).
func startRegistry(t *testing.T) *registry {
	r := testregistry.Start(t)
	return &registry{host: r.Host, user: r.User, pass: r.Pass}
}

// push copies the artifact's layout, tag tag, to repo:tag with oras-go
// and returns the manifest digest.
func (r *registry) push(t *testing.T, a *artifact, repo, tag string) digest.Digest {
	t.Helper()
	ctx := context.Background()
	dir, md := a.writeLayout(t, tag)
	src, err := ocilayout.NewFromFS(ctx, os.DirFS(dir))
	require.NoError(t, err)
	dst, err := remote.NewRepository(r.host + "/" + repo)
	require.NoError(t, err)
	dst.PlainHTTP = true
	dst.Client = &auth.Client{Client: retry.DefaultClient, Cache: auth.NewCache(),
		Credential: auth.StaticCredential(r.host, auth.Credential{Username: r.user, Password: r.pass})}
	_, err = oras.Copy(ctx, src, tag, dst, tag, oras.DefaultCopyOptions)
	require.NoError(t, err)
	return md
}

// dockerConfig points DOCKER_CONFIG at a config.json holding the
// registry's credentials for host, as docker login writes them.
func (r *registry) dockerConfig(t *testing.T, host string) {
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(r.user + ":" + r.pass))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600))
	t.Setenv("DOCKER_CONFIG", dir)
}

// A ModelPack artifact pushed to a real registry opens by tag and by
// digest, with the Docker configuration's credentials, for every layer
// type; hostile artifacts in it are refused as from a layout.
func TestRegistryModelPack(t *testing.T) {
	r := startRegistry(t)
	ctx := context.Background()
	w := safetensors("w")
	tr := tarOf(t, file("model.safetensors", w))
	build := map[string]func(a *artifact){
		"raw":      func(a *artifact) { a.raw("model.safetensors", w) },
		"tar":      func(a *artifact) { a.layer("application/vnd.cncf.model.weight.v1.tar", tr) },
		"tar+gzip": func(a *artifact) { a.layer("application/vnd.cncf.model.weight.v1.tar+gzip", gz(t, tr)) },
		"tar+zstd": func(a *artifact) { a.layer("application/vnd.cncf.model.weight.v1.tar+zstd", zst(t, tr)) },
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials
	a := newModelPack()
	a.raw("model.safetensors", w)
	md := r.push(t, a, "models/raw", "v1")
	_, err := oci.Open(ctx, "oci://"+r.host+"/models/raw:v1")
	assert.Equal(t, formats.KindIO, formats.KindOf(err), "no credentials: %v", err)

	r.dockerConfig(t, r.host)
	for name, b := range build {
		t.Run(name, func(t *testing.T) {
			a := newModelPack()
			b(a)
			repo := "models/" + strings.NewReplacer("+", "-").Replace(name)
			md := r.push(t, a, repo, "v1")
			for _, ref := range []string{"oci://" + r.host + "/" + repo + ":v1", "oci://" + r.host + "/" + repo + "@" + md.String()} {
				m, err := oci.Open(ctx, ref)
				require.NoError(t, err, ref)
				assert.Equal(t, md, m.Manifest.Digest)
				assert.True(t, m.Verified.Allowlisted)
				_, ok := m.Tensor("w")
				assert.True(t, ok)
				m.Close()
			}
		})
	}

	t.Run("tag moved after pinning", func(t *testing.T) {
		b := newModelPack()
		b.raw("model.safetensors", safetensors("moved"))
		r.push(t, b, "models/raw", "v1")
		m, err := oci.Open(ctx, "oci://"+r.host+"/models/raw@"+md.String(), oci.RequireDigest())
		require.NoError(t, err)
		_, ok := m.Tensor("w")
		assert.True(t, ok, "the pin still names the original content")
		m.Close()
		_, err = oci.Open(ctx, "oci://"+r.host+"/models/raw:v1", oci.RequireDigest())
		assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "%v", err)
	})

	hostile := []struct {
		name  string
		build func(a *artifact)
		kind  formats.Kind
	}{
		{"tar slip", func(a *artifact) {
			a.layer("application/vnd.cncf.model.weight.v1.tar", tarOf(t, file("../x.safetensors", w)))
		}, formats.KindPathTraversal},
		{"hard link to /etc/passwd", func(a *artifact) {
			a.layer("application/vnd.cncf.model.weight.v1.tar", tarOf(t, special("model.safetensors", '1', "/etc/passwd")))
		}, formats.KindPathTraversal},
		{"unknown media type", func(a *artifact) {
			a.layer("application/vnd.example.weights", w, ocispec.AnnotationTitle, "m.safetensors")
		}, formats.KindUnsupported},
	}
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			a := newModelPack()
			tc.build(a)
			md := r.push(t, a, "hostile/x", "v1")
			_, err := oci.Open(ctx, "oci://"+r.host+"/hostile/x@"+md.String())
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
		})
	}
}

// A registry (or a proxy in front of it) serving other bytes for a layer
// is refused as a digest mismatch, before any file of it is gated.
func TestRegistryLayerSwappedInTransit(t *testing.T) {
	r := startRegistry(t)
	a := newModelPack()
	l := a.raw("model.safetensors", safetensors("w"))
	md := r.push(t, a, "models/swap", "v1")
	evil := safetensors("x") // same length, other bytes

	upstream, err := url.Parse("http://" + r.host)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/blobs/"+l.Digest.String()) && resp.Request.Method == http.MethodGet {
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(evil))
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	r.dockerConfig(t, host)
	_, err = oci.Open(context.Background(), "oci://"+host+"/models/swap@"+md.String())
	assert.Equal(t, formats.KindDigestMismatch, formats.KindOf(err), "%v", err)
}

// A manifest signed with a Sigstore bundle pushed as its referrer (oras-go
// uses the registry's referrers API, or the sha256-HEX tag fallback)
// verifies by tag; signed by another key it is refused.
func TestRegistrySignedManifest(t *testing.T) {
	r := startRegistry(t)
	r.dockerConfig(t, r.host)
	good, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sv, err := signature.NewVerifier(signature.WithPublicKey("release", good.Public()))
	require.NoError(t, err)
	ctx := context.Background()
	for _, tc := range []struct {
		repo string
		key  *ecdsa.PrivateKey
		kind formats.Kind
	}{{"signed/good", good, ""}, {"signed/other", other, formats.KindSignatureInvalid}} {
		a := newModelPack()
		a.raw("m.safetensors", safetensors("w"))
		md := a.manifest(t)
		sig := a.signManifest(t, md, tc.key)
		md.Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
		sig.Annotations = map[string]string{ocispec.AnnotationRefName: "sig"}
		dir := a.writeIndex(t, md, sig)
		src, err := ocilayout.NewFromFS(ctx, os.DirFS(dir))
		require.NoError(t, err)
		dst, err := remote.NewRepository(r.host + "/" + tc.repo)
		require.NoError(t, err)
		dst.PlainHTTP = true
		dst.Client = &auth.Client{Client: retry.DefaultClient, Cache: auth.NewCache(),
			Credential: auth.StaticCredential(r.host, auth.Credential{Username: r.user, Password: r.pass})}
		for _, tag := range []string{"v1", "sig"} {
			_, err = oras.Copy(ctx, src, tag, dst, tag, oras.DefaultCopyOptions)
			require.NoError(t, err)
		}
		m, err := oci.Open(ctx, "oci://"+r.host+"/"+tc.repo+":v1", oci.WithSignatureVerifier(sv))
		if tc.kind == "" {
			require.NoError(t, err)
			assert.NotEmpty(t, m.Signer)
			m.Close()
			continue
		}
		assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
	}
}

// Artifacts pushed with the real oras CLI (oras.land/oras v1.3.6), a file
// as a raw ModelPack weight layer and a directory as a tar+gzip one, open
// by tag.
func TestRegistryOrasCLIPush(t *testing.T) {
	r := startRegistry(t)
	bin := orasBin(t)
	r.dockerConfig(t, r.host)
	work := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(work, "model.safetensors"), safetensors("w"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(work, "tok"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(work, "tok", "extra.safetensors"), safetensors("v"), 0o644))
	for _, tc := range []struct{ repo, file, mt string }{
		{"oras/raw", "model.safetensors", "application/vnd.cncf.model.weight.v1.raw"},
		{"oras/dir", "tok", "application/vnd.cncf.model.weight.v1.tar+gzip"},
	} {
		cmd := exec.Command(bin, "push", "--plain-http", "-u", r.user, "-p", r.pass,
			r.host+"/"+tc.repo+":v1", "--artifact-type", oci.ArtifactTypeModelPack, tc.file+":"+tc.mt)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		m, err := oci.Open(context.Background(), "oci://"+r.host+"/"+tc.repo+":v1")
		require.NoError(t, err, tc.repo)
		assert.True(t, m.Verified.Allowlisted)
		assert.Len(t, m.Tensors, 1)
		t.Logf("%s: %v", tc.repo, m.Layers[0].Files)
		m.Close()
	}
}

// examples/ci/oci-promote.sh copies a verified artifact to production with
// the real oras CLI, and copies nothing when modelgate refuses it.
func TestRegistryPromoteExample(t *testing.T) {
	r := startRegistry(t)
	orasBin := os.Getenv("MODELGATE_ORAS")
	if orasBin == "" {
		orasBin, _ = exec.LookPath("oras")
	}
	if orasBin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("the oras CLI is missing: go install oras.land/oras/cmd/oras@v1.3.6")
		}
		t.Skip("needs the oras CLI: go install oras.land/oras/cmd/oras@v1.3.6")
	}
	r.dockerConfig(t, r.host)
	mg := filepath.Join(t.TempDir(), "modelgate")
	out, err := exec.Command("go", "build", "-o", mg, "../../cmd/modelgate").CombinedOutput()
	require.NoError(t, err, "%s", out)
	script, err := filepath.Abs("../../examples/ci/oci-promote.sh")
	require.NoError(t, err)
	promote := func(src, dst string) (int, string) {
		cmd := exec.Command("bash", script, src, dst)
		cmd.Env = append(os.Environ(), "MODELGATE="+mg, "ORAS="+orasBin, "ORAS_FLAGS=--from-plain-http --to-plain-http")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		require.NoError(t, err)
		return 0, string(out)
	}
	exists := func(repo string) bool {
		_, err := oci.Open(context.Background(), "oci://"+r.host+"/"+repo+":v1")
		return err == nil
	}

	good := newModelPack()
	good.raw("model.safetensors", safetensors("w"))
	md := r.push(t, good, "staging/good", "v1")
	code, msg := promote(r.host+"/staging/good@"+md.String(), r.host+"/prod/good:v1")
	require.Equal(t, 0, code, msg)
	assert.True(t, exists("prod/good"), "promoted")

	bad := newModelPack()
	bad.layer("application/vnd.cncf.model.weight.v1.tar", tarOf(t, file("../model.safetensors", safetensors("w"))))
	md = r.push(t, bad, "staging/bad", "v1")
	code, msg = promote(r.host+"/staging/bad@"+md.String(), r.host+"/prod/bad:v1")
	assert.Equal(t, 1, code, msg)
	assert.False(t, exists("prod/bad"), "nothing copied")

	code, msg = promote(r.host+"/staging/good:v1", r.host+"/prod/good2:v1")
	assert.Equal(t, 2, code, "a tag is refused before anything runs: %s", msg)
}

// Signatures made by the real cosign (v2.6.5, a key, offline with
// --tlog-upload=false), in its default .sig tag scheme and as a
// --new-bundle-format referrer (a DSSE in-toto bundle), verify with the
// public key; a manifest cosign did not sign (the tag moved) is
// not-allowlisted.
func TestRegistryCosignSigned(t *testing.T) {
	r := startRegistry(t)
	bin := os.Getenv("MODELGATE_COSIGN")
	if bin == "" {
		bin, _ = exec.LookPath("cosign")
	}
	if bin == "" {
		const how = "needs cosign: go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5 (or set MODELGATE_COSIGN)"
		if os.Getenv("CI") == "true" {
			t.Fatal(how) // .ci/run installs it
		}
		t.Skip(how)
	}
	r.dockerConfig(t, r.host)
	work := t.TempDir()
	env := append(os.Environ(), "COSIGN_PASSWORD=", "HOME="+work)
	run := func(args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "cosign %v: %s", args, out)
	}
	run("generate-key-pair")
	sv, err := signature.NewVerifier(signature.WithPublicKeyFile(filepath.Join(work, "cosign.pub")))
	require.NoError(t, err)

	a := newModelPack()
	a.raw("model.safetensors", safetensors("w"))
	md := r.push(t, a, "cosign/model", "v1")
	run("sign", "--yes", "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry", "--allow-insecure-registry", r.host+"/cosign/model@"+md.String())
	m, err := oci.Open(context.Background(), "oci://"+r.host+"/cosign/model:v1", oci.WithSignatureVerifier(sv))
	require.NoError(t, err)
	assert.NotEmpty(t, m.Signer)
	m.Close()

	// cosign --new-bundle-format stores a Sigstore bundle as a referrer.
	c := newModelPack()
	c.raw("model.safetensors", safetensors("n"))
	mc := r.push(t, c, "cosign/bundle", "v1")
	run("sign", "--yes", "--new-bundle-format", "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry", "--allow-insecure-registry", r.host+"/cosign/bundle@"+mc.String())
	m, err = oci.Open(context.Background(), "oci://"+r.host+"/cosign/bundle:v1", oci.WithSignatureVerifier(sv))
	require.NoError(t, err)
	m.Close()

	b := newModelPack()
	b.raw("model.safetensors", safetensors("x"))
	r.push(t, b, "cosign/model", "v1") // the tag moved after signing
	_, err = oci.Open(context.Background(), "oci://"+r.host+"/cosign/model:v1", oci.WithSignatureVerifier(sv))
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "%v", err)
}
