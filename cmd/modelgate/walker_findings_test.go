//go:build !modelgate_lean

package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
)

func rtWeights(t *testing.T, name string) []byte {
	t.Helper()
	// A tiny safetensors file whose one tensor is named name: shards of a
	// checkpoint must not share tensor names.
	hdr := fmt.Sprintf(`{"%s":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, name)
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	var b bytes.Buffer
	n := uint64(len(hdr))
	b.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), 0, 0, 0, 0})
	b.WriteString(hdr)
	b.Write([]byte{1, 2})
	return b.Bytes()
}

func rtWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b, 0o644))
}

// hfCache lays out models--org--name with every file of files as a link
// from snapshots/REV into blobs/, refs/main naming REV.
func hfCache(t *testing.T, dir string, files map[string][]byte) (repo, snap string) {
	repo = filepath.Join(dir, "hub", "models--org--name")
	rev := strings.Repeat("ab", 20)
	snap = filepath.Join(repo, "snapshots", rev)
	rtWrite(t, filepath.Join(repo, "refs", "main"), []byte(rev))
	for name, b := range files {
		sum := sha256.Sum256(b)
		blob := hex.EncodeToString(sum[:])
		rtWrite(t, filepath.Join(repo, "blobs", blob), b)
		link := filepath.Join(snap, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o755))
		rel, err := filepath.Rel(filepath.Dir(link), filepath.Join(repo, "blobs", blob))
		require.NoError(t, err)
		require.NoError(t, os.Symlink(rel, link))
	}
	return repo, snap
}

// rtKeys writes an ECDSA key pair and returns the paths of the PKCS#8
// private key and the public key.
func rtKeys(t *testing.T, dir string) (priv, pub string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	pder, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	priv, pub = filepath.Join(dir, "release.key"), filepath.Join(dir, "release.pub")
	rtWrite(t, priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	rtWrite(t, pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}))
	return priv, pub
}

// cliVerdict runs the CLI with --json and returns "" (accepted) or the
// error kind.
func cliVerdict(t *testing.T, args ...string) (formats.Kind, int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{args[0], "--json"}, args[1:]...), &out, &errb)
	if code == exitOK {
		return "", code, ""
	}
	var r struct {
		Error struct {
			Kind formats.Kind `json:"kind"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &r), "%s %s", out.String(), errb.String())
	return r.Error.Kind, code, errb.String()
}

// TestWalkerFindings: one test per finding of issue 22 in the walker and
// digest-file scope (and issue 23's finding 3), each as a user meets it on
// the command line; every one of them failed before the one walker.
func TestWalkerFindings(t *testing.T) {
	sh := func(t *testing.T, args ...string) string {
		var out, errb bytes.Buffer
		require.Equal(t, exitOK, run(args, &out, &errb), "%v: %s", args, errb.String())
		return out.String()
	}
	model := func(t *testing.T, dir string) string {
		m := filepath.Join(dir, "model")
		rtWrite(t, filepath.Join(m, "model.safetensors"), rtWeights(t, "w"))
		rtWrite(t, filepath.Join(m, "config.json"), []byte(`{"a": 1}`))
		return m
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, dir string) (kind formats.Kind, code int)
		want formats.Kind
	}{
		{"1: hash then verify --sha256-file on a clone holding .git and .hg", func(t *testing.T, dir string) (formats.Kind, int) {
			m := model(t, dir)
			rtWrite(t, filepath.Join(m, ".git", "HEAD"), []byte("ref: refs/heads/main\n"))
			rtWrite(t, filepath.Join(m, ".hg", "store", "00changelog.i"), []byte("\x00\x01\x00\x01"))
			rtWrite(t, filepath.Join(dir, "SUMS"), []byte(sh(t, "hash", m)))
			k, c, _ := cliVerdict(t, "verify", "--sha256-file", filepath.Join(dir, "SUMS"), m)
			return k, c
		}, ""},
		{"1: sign then verify on a directory holding .hg", func(t *testing.T, dir string) (formats.Kind, int) {
			m := model(t, dir)
			rtWrite(t, filepath.Join(m, ".hg", "store", "00changelog.i"), []byte("\x00\x01\x00\x01"))
			priv, pub := rtKeys(t, dir)
			sh(t, "sign", "--key", priv, m)
			k, c, _ := cliVerdict(t, "verify", "--key", pub, m)
			return k, c
		}, ""},
		{"1: hash on a Hugging Face cache snapshot", func(t *testing.T, dir string) (formats.Kind, int) {
			_, snap := hfCache(t, dir, map[string][]byte{"model.safetensors": rtWeights(t, "w")})
			k, c, _ := cliVerdict(t, "hash", snap)
			return k, c
		}, ""},
		{"1: inspect a Hugging Face cache repository folder (refs/main resolved)", func(t *testing.T, dir string) (formats.Kind, int) {
			repo, _ := hfCache(t, dir, map[string][]byte{
				"model-00001-of-00001.safetensors": rtWeights(t, "w"),
				"model.safetensors.index.json":     []byte(`{"weight_map":{"w":"model-00001-of-00001.safetensors"}}`),
			})
			k, c, _ := cliVerdict(t, "inspect", repo)
			return k, c
		}, ""},
		{"1: every command takes hf://ORG/NAME@REV from the hub cache", func(t *testing.T, dir string) (formats.Kind, int) {
			repo, _ := hfCache(t, dir, map[string][]byte{"model.safetensors": rtWeights(t, "w")})
			t.Setenv("HF_HUB_CACHE", filepath.Dir(repo))
			priv, pub := rtKeys(t, dir)
			rtWrite(t, filepath.Join(dir, "SUMS"), []byte(sh(t, "hash", "hf://org/name")))
			sh(t, "scan", "hf://org/name")
			if k, c, msg := cliVerdict(t, "verify", "--sha256-file", filepath.Join(dir, "SUMS"), "hf://org/name"); c != exitOK {
				t.Errorf("--sha256-file: %s %s", k, msg)
			}
			sh(t, "sign", "--key", priv, "hf://org/name@main")
			k, c, _ := cliVerdict(t, "verify", "--key", pub, "--revision", "main", "hf://org/name")
			return k, c
		}, ""},
		{"1: weights under a nested sub/.git are covered", func(t *testing.T, dir string) (formats.Kind, int) {
			m := model(t, dir)
			priv, pub := rtKeys(t, dir)
			sh(t, "sign", "--key", priv, m)
			rtWrite(t, filepath.Join(m, "sub", ".git", "w.safetensors"), rtWeights(t, "unsigned"))
			k, c, _ := cliVerdict(t, "verify", "--key", pub, m)
			return k, c
		}, formats.KindDigestMismatch},
		{"2: a policy reads digest_files relative to the file as --sha256-file does", func(t *testing.T, dir string) (formats.Kind, int) {
			m := model(t, dir)
			rtWrite(t, filepath.Join(dir, "model.sums"), []byte(sh(t, "hash", m)))
			rtWrite(t, filepath.Join(dir, "policy.yaml"), []byte("version: 1\ndigest_files: [model.sums]\nrequire: [digest]\n"))
			k, c, _ := cliVerdict(t, "verify", "--policy", filepath.Join(dir, "policy.yaml"), m)
			return k, c
		}, ""},
		{"2: an empty sums file is a configuration error", func(t *testing.T, dir string) (formats.Kind, int) {
			m := model(t, dir)
			rtWrite(t, filepath.Join(dir, "SUMS"), nil)
			k, c, _ := cliVerdict(t, "verify", "--sha256-file", filepath.Join(dir, "SUMS"), m)
			return k, c
		}, "usage"},
		{"2: a sha256sum file named bloom-1b3.sha256 is SHA-256", func(t *testing.T, dir string) (formats.Kind, int) {
			m := model(t, dir)
			rtWrite(t, filepath.Join(dir, "bloom-1b3.sha256"), []byte(sh(t, "hash", m)))
			k, c, _ := cliVerdict(t, "verify", "--sha256-file", filepath.Join(dir, "bloom-1b3.sha256"), m)
			return k, c
		}, ""},
		{"2: a Git LFS pointer approves its oid in a policy as on the command line", func(t *testing.T, dir string) (formats.Kind, int) {
			m := filepath.Join(dir, "model")
			w := rtWeights(t, "w")
			rtWrite(t, filepath.Join(m, "model.safetensors"), w)
			rtWrite(t, filepath.Join(dir, "weights.pointer"), fmt.Appendf(nil, "version https://git-lfs.github.com/spec/v1\noid sha256:%x\nsize %d\n", sha256.Sum256(w), len(w)))
			rtWrite(t, filepath.Join(dir, "policy.yaml"), []byte("version: 1\ndigest_files: [weights.pointer]\n"))
			if k, c, msg := cliVerdict(t, "verify", "--sha256-file", filepath.Join(dir, "weights.pointer"), m); c != exitOK {
				t.Errorf("--sha256-file: %s %s", k, msg)
			}
			k, c, _ := cliVerdict(t, "verify", "--policy", filepath.Join(dir, "policy.yaml"), m)
			return k, c
		}, ""},
		{"4: --exclude '*.md' on a model whose signature covers README.md", func(t *testing.T, dir string) (formats.Kind, int) {
			m := model(t, dir)
			rtWrite(t, filepath.Join(m, "README.md"), []byte("# model\n"))
			priv, pub := rtKeys(t, dir)
			sh(t, "sign", "--key", priv, m)
			rtWrite(t, filepath.Join(dir, "policy.yaml"), fmt.Appendf(nil, "version: 1\nexclude: [\"*.md\"]\nsignatures: {keys: [%q]}\n", pub))
			if k, c, msg := cliVerdict(t, "verify", "--policy", filepath.Join(dir, "policy.yaml"), m); c != exitOK {
				t.Errorf("policy exclude: %s %s", k, msg)
			}
			k, c, _ := cliVerdict(t, "verify", "--key", pub, "--exclude", "*.md", m)
			return k, c
		}, ""},
		{"issue 23 finding 3: an unsigned model.sig beside a bundle given elsewhere", func(t *testing.T, dir string) (formats.Kind, int) {
			m := model(t, dir)
			priv, pub := rtKeys(t, dir)
			out := filepath.Join(dir, "out.sig")
			sh(t, "sign", "--key", priv, "--output", out, m)
			rtWrite(t, filepath.Join(m, "model.sig"), []byte(`{"unsigned": true}`))
			k, c, _ := cliVerdict(t, "verify", "--key", pub, "--bundle", out, m)
			return k, c
		}, formats.KindDigestMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, code := tc.run(t, t.TempDir())
			assert.Equal(t, tc.want, kind)
			switch tc.want {
			case "":
				assert.Equal(t, exitOK, code)
			case "usage":
				assert.Equal(t, exitUsage, code)
			default:
				assert.Equal(t, exitRefused, code)
			}
		})
	}
}
