//go:build !modelgate_lean

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/modeltree"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// The round-trip laws of issue 22, over generated layouts: every command,
// the policy and the library read a model the same way (internal/
// modeltree), so that
//
//   - hash then verify --sha256-file (--blake3-file) accepts, and so does
//     a policy's digest_files (blake3_files) with the same file;
//   - sign then verify accepts: sha256 and blake3, files and shards, with
//     and without --ignore-paths;
//   - the library and the CLI give the same verdict and kind;
//   - any one changed, added or removed file is refused, and a change
//     under a top-level .git, .hg or .svn is no change of the model.

// layout is a generated model: write lays it out below dir and returns the
// path commands are given, and the name (relative to the model
// directory) of a file whose change must be refused.
type layout struct {
	name  string
	write func(t *testing.T, dir string) (model, change string)
	vcs   string // a file under a top-level VCS directory, relative to the model directory
}

func layouts() []layout {
	plain := func(t *testing.T, m string) {
		rtWrite(t, filepath.Join(m, "model.safetensors"), rtWeights(t, "w"))
		rtWrite(t, filepath.Join(m, "config.json"), []byte(`{"model_type": "mlp"}`))
		rtWrite(t, filepath.Join(m, "README.md"), []byte("# model\n"))
	}
	return []layout{
		{name: "plain directory", write: func(t *testing.T, dir string) (string, string) {
			m := filepath.Join(dir, "model")
			plain(t, m)
			return m, "model.safetensors"
		}},
		{name: "nested folders", write: func(t *testing.T, dir string) (string, string) {
			m := filepath.Join(dir, "model")
			rtWrite(t, filepath.Join(m, "sub", "a.safetensors"), rtWeights(t, "a"))
			rtWrite(t, filepath.Join(m, "sub", "deeper", "b.safetensors"), rtWeights(t, "b"))
			rtWrite(t, filepath.Join(m, "sub", "deeper", "tokenizer.json"), []byte(`{"version": "1.0"}`))
			return m, "sub/deeper/b.safetensors"
		}},
		{name: "git hg and svn at the top", vcs: ".git/HEAD", write: func(t *testing.T, dir string) (string, string) {
			m := filepath.Join(dir, "model")
			plain(t, m)
			rtWrite(t, filepath.Join(m, ".git", "HEAD"), []byte("ref: refs/heads/main\n"))
			rtWrite(t, filepath.Join(m, ".git", "lfs", "objects", "ab", "cd", "abcd"), rtWeights(t, "w"))
			rtWrite(t, filepath.Join(m, ".hg", "store", "data", "model.safetensors.i"), []byte("\x00\x01revlog\xff"))
			rtWrite(t, filepath.Join(m, ".svn", "wc.db"), []byte("SQLite format 3\x00"))
			rtWrite(t, filepath.Join(m, ".gitattributes"), []byte("*.safetensors filter=lfs diff=lfs merge=lfs -text\n"))
			return m, "config.json"
		}},
		{name: "git and hg below the top are model folders", write: func(t *testing.T, dir string) (string, string) {
			m := filepath.Join(dir, "model")
			plain(t, m)
			rtWrite(t, filepath.Join(m, "sub", ".git", "w.safetensors"), rtWeights(t, "nested-git"))
			rtWrite(t, filepath.Join(m, "sub", ".hg", "notes.txt"), []byte("notes\n"))
			return m, "sub/.git/w.safetensors"
		}},
		{name: "Hugging Face cache snapshot", write: func(t *testing.T, dir string) (string, string) {
			_, snap := hfCache(t, dir, map[string][]byte{"model.safetensors": rtWeights(t, "w"), "config.json": []byte(`{"a": 1}`), "sub/tokenizer.json": []byte(`{}`)})
			return snap, "config.json"
		}},
		{name: "Hugging Face cache repository folder", write: func(t *testing.T, dir string) (string, string) {
			repo, _ := hfCache(t, dir, map[string][]byte{"model.safetensors": rtWeights(t, "w"), "config.json": []byte(`{"a": 1}`)})
			return repo, "model.safetensors"
		}},
		{name: "empty files", write: func(t *testing.T, dir string) (string, string) {
			m := filepath.Join(dir, "model")
			plain(t, m)
			rtWrite(t, filepath.Join(m, "empty"), nil)
			rtWrite(t, filepath.Join(m, "sub", "also-empty"), nil)
			return m, "model.safetensors"
		}},
		{name: "unicode and space-holding names", write: func(t *testing.T, dir string) (string, string) {
			m := filepath.Join(dir, "my model")
			rtWrite(t, filepath.Join(m, "模型 weights.safetensors"), rtWeights(t, "w"))
			rtWrite(t, filepath.Join(m, "dir with space", "ä ö.safetensors"), rtWeights(t, "v"))
			rtWrite(t, filepath.Join(m, "read me.md"), []byte("hi\n"))
			return m, "dir with space/ä ö.safetensors"
		}},
		{name: "sharded checkpoint", write: func(t *testing.T, dir string) (string, string) {
			m := filepath.Join(dir, "model")
			rtWrite(t, filepath.Join(m, "model-00001-of-00002.safetensors"), rtWeights(t, "a"))
			rtWrite(t, filepath.Join(m, "model-00002-of-00002.safetensors"), rtWeights(t, "b"))
			rtWrite(t, filepath.Join(m, "model.safetensors.index.json"), []byte(`{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`))
			return m, "model-00002-of-00002.safetensors"
		}},
	}
}

func libVerdict(model string, opts ...loader.Option) formats.Kind {
	m, err := loader.Open(context.Background(), model, opts...)
	if err != nil {
		return formats.KindOf(err)
	}
	m.Close()
	return ""
}

// check is one way of verifying a model, by the CLI and by the library.
type check struct {
	name string
	cli  []string
	lib  []loader.Option
}

func (c check) verdict(t *testing.T, model string) formats.Kind {
	t.Helper()
	kind, code, msg := cliVerdict(t, append(append([]string{"verify"}, c.cli...), model)...)
	assert.Equal(t, kind, libVerdict(model, c.lib...), "%s: the library and the CLI disagree (CLI: %s)", c.name, msg)
	if kind == formats.KindUsage {
		assert.Equal(t, exitUsage, code)
	}
	return kind
}

func TestRoundTripLaws(t *testing.T) {
	for _, l := range layouts() {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			model, change := l.write(t, dir)
			tree, err := modeltree.List(model, modeltree.Options{})
			require.NoError(t, err)
			modelDir := tree.Dir
			priv, pub := rtKeys(t, t.TempDir())
			pubKey, err := signature.NewVerifier(signature.WithPublicKeyFile(pub))
			require.NoError(t, err)

			// hash, as a user runs it, into a sums file beside the model.
			var checks []check
			for _, alg := range []string{"sha256", "blake3"} {
				var out, errb bytes.Buffer
				require.Equal(t, exitOK, run([]string{"hash", "--algorithm", alg, model}, &out, &errb), errb.String())
				sums := filepath.Join(dir, alg+".sums")
				rtWrite(t, sums, out.Bytes())
				field, flag, a := "digest_files", "--sha256-file", verify.SHA256
				if alg == "blake3" {
					field, flag, a = "blake3_files", "--blake3-file", verify.BLAKE3
				}
				policy := filepath.Join(dir, alg+"-policy.yaml")
				rtWrite(t, policy, fmt.Appendf(nil, "version: 1\n%s: [%s.sums]\nrequire: [digest]\n", field, alg))
				pol, err := verify.LoadPolicy(policy)
				require.NoError(t, err)
				df, err := verify.ReadDigestFile(sums, a)
				require.NoError(t, err)
				checks = append(checks,
					check{"hash then verify " + flag, []string{flag, sums}, []loader.Option{loader.WithDigestFile(df)}},
					check{"hash then a policy's " + field, []string{"--policy", policy}, []loader.Option{loader.WithPolicy(pol)}})
			}
			for _, c := range checks {
				assert.Equal(t, formats.Kind(""), c.verdict(t, model), c.name)
			}

			// sign then verify, in every serialization modelgate writes.
			signs := map[string][]string{
				"sha256 files":               {},
				"blake3 files":               {"--hash", "blake3"},
				"sha256 shards":              {"--shard-size", "64"},
				"sha256 with --ignore-paths": {"--ignore-paths", "ignored.txt"},
			}
			rtWrite(t, filepath.Join(modelDir, "ignored.txt"), []byte("left out of the signature\n"))
			var names []string
			for n := range signs {
				names = append(names, n)
			}
			sort.Strings(names)
			sigChecks := map[string]check{}
			for _, n := range names {
				bundle := filepath.Join(dir, strings.ReplaceAll(n, " ", "-")+".sig")
				args := append(append([]string{"sign", "--key", priv, "--output", bundle}, signs[n]...), model)
				var out, errb bytes.Buffer
				require.Equal(t, exitOK, run(args, &out, &errb), "%s: %s", n, errb.String())
				c := check{"sign (" + n + ") then verify", []string{"--key", pub, "--bundle", bundle, "--exclude", "ignored.txt"},
					[]loader.Option{loader.WithSignatureVerifier(pubKey), loader.WithBundle(bundle), loader.WithExclude("ignored.txt")}}
				assert.Equal(t, formats.Kind(""), c.verdict(t, model), c.name)
				sigChecks[n] = c
			}
			require.NoError(t, os.Remove(filepath.Join(modelDir, "ignored.txt")))
			for _, n := range names {
				assert.Equal(t, formats.Kind(""), sigChecks[n].verdict(t, model), "%s: an excluded file may be absent", n)
				checks = append(checks, sigChecks[n])
			}

			// A change under a top-level VCS directory is no change of the
			// model; any one changed, added or removed file is refused.
			if l.vcs != "" {
				rtWrite(t, filepath.Join(modelDir, filepath.FromSlash(l.vcs)), []byte("changed\n"))
				for _, c := range checks {
					assert.Equal(t, formats.Kind(""), c.verdict(t, model), "%s: after a change in %s", c.name, l.vcs)
				}
			}
			target := filepath.Join(modelDir, filepath.FromSlash(change))
			orig, err := os.ReadFile(target)
			require.NoError(t, err)
			mutations := []struct {
				name        string
				apply, undo func()
			}{
				{"changed " + change, func() {
					b := bytes.Clone(orig)
					b[len(b)-1] ^= 1
					require.NoError(t, os.Remove(target)) // a cache link: replace it by a plain file
					rtWrite(t, target, b)
				}, func() { rtWrite(t, target, orig) }},
				{"added extra.safetensors", func() { rtWrite(t, filepath.Join(modelDir, "sub2", "extra.safetensors"), rtWeights(t, "extra")) },
					func() { require.NoError(t, os.RemoveAll(filepath.Join(modelDir, "sub2"))) }},
				{"removed " + change, func() { require.NoError(t, os.Remove(target)) }, func() { rtWrite(t, target, orig) }},
			}
			for _, mu := range mutations {
				mu.apply()
				for _, c := range checks {
					kind := c.verdict(t, model)
					assert.Contains(t, []formats.Kind{formats.KindDigestMismatch, formats.KindNotAllowlisted}, kind, "%s: %s must be refused", c.name, mu.name)
				}
				mu.undo()
			}
		})
	}
}
