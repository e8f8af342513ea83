package loader_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// model writes a model directory: one safetensors file and a config.
func model(t testing.TB) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "model.safetensors"), stFile(t, formats.F32, "w"))
	writeFile(t, filepath.Join(dir, "config.json"), []byte(`{"architectures": ["LlamaForCausalLM"]}`))
	return dir
}

// allowlistOf approves every file of dir as it is now.
func allowlistOf(t testing.TB, dir string) *verify.Allowlist {
	md, err := verify.ListModel(dir)
	require.NoError(t, err)
	var e []verify.Entry
	for i, f := range md.Files {
		d, err := md.Sum(ctx, i, verify.SHA256, 0, f.Size)
		require.NoError(t, err)
		e = append(e, verify.NewEntry(f.Name, verify.SHA256, verify.Digest(d)))
	}
	a, err := verify.NewAllowlist(e...)
	require.NoError(t, err)
	return a
}

// TestEveryFileIsCovered: under an allowlist or a signature, every file
// of the model must be approved, not only the weights (issue 13, findings
// 1 to 3 and 7); exclusions excuse inert files only.
func TestEveryFileIsCovered(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signed := func(t *testing.T, dir string, ignore ...string) loader.Option {
		b, err := signature.SignModel(ctx, dir, key, signature.SignOptions{IgnorePaths: ignore})
		require.NoError(t, err)
		writeFile(t, filepath.Join(dir, "model.sig"), b)
		v, err := signature.NewVerifier(signature.WithPublicKey("release", key.Public()))
		require.NoError(t, err)
		return loader.WithSignatureVerifier(v)
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string) // after approval
		sign   bool                           // approve by signature, else by allowlist
		ignore []string                       // signed with these ignore paths
		opts   []loader.Option
		kind   formats.Kind
		msg    string
	}{
		{name: "changed config.json (allowlist)", change: func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "config.json"), []byte(`{}`)) }, kind: formats.KindDigestMismatch, msg: "config.json"},
		{name: "added README (allowlist)", change: func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "README.md"), []byte("# hi\n")) }, kind: formats.KindNotAllowlisted, msg: "README.md"},
		{name: "added README, excluded", change: func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "README.md"), []byte("# hi\n")) }, opts: []loader.Option{loader.WithExclude("*.md")}},
		{name: "missing listed file (allowlist)", change: func(t *testing.T, d string) { os.Remove(filepath.Join(d, "config.json")) }, kind: formats.KindDigestMismatch, msg: "does not hold: config.json"},
		{name: "added modeling_evil.py", change: func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "modeling_evil.py"), []byte("import os\n"))
		}, kind: formats.KindCode, msg: "modeling_evil.py"},
		{name: "added modeling_evil.py, code allowed but not approved", change: func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "modeling_evil.py"), []byte("import os\n"))
		}, opts: []loader.Option{loader.WithAllowCodeUnsafe()}, kind: formats.KindNotAllowlisted, msg: "modeling_evil.py"},
		{name: "weights under an excluded name (allowlist)", change: func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "notes.md"), stFile(t, formats.F32, "x"))
		}, opts: []loader.Option{loader.WithExclude("*.md")}, kind: formats.KindNotAllowlisted, msg: "notes.md"},
		{name: "unsigned weights under .github/", sign: true, change: func(t *testing.T, d string) {
			require.NoError(t, os.MkdirAll(filepath.Join(d, ".github"), 0o755))
			writeFile(t, filepath.Join(d, ".github", "x.safetensors"), stFile(t, formats.F32, "x"))
		}, kind: formats.KindDigestMismatch, msg: ".github/x.safetensors"},
		{name: "an npz named .gitignore", sign: true, change: func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, ".gitignore"), testdata(t, "npz/savez.npz"))
		}, kind: formats.KindDigestMismatch, msg: ".gitignore"},
		{name: "weights under the manifest's ignore_paths", sign: true, ignore: []string{"extra"}, change: func(t *testing.T, d string) {
			require.NoError(t, os.MkdirAll(filepath.Join(d, "extra"), 0o755))
			writeFile(t, filepath.Join(d, "extra", "w.npy"), testdata(t, "npy/le-f4.npy"))
		}, kind: formats.KindNotAllowlisted, msg: "extra/w.npy"}, // the signer left them out: refused by coverage
		{name: "weights under --ignore-paths", sign: true, opts: []loader.Option{loader.WithExclude("extra")}, change: func(t *testing.T, d string) {
			require.NoError(t, os.MkdirAll(filepath.Join(d, "extra"), 0o755))
			writeFile(t, filepath.Join(d, "extra", "w.npy"), testdata(t, "npy/le-f4.npy"))
		}, kind: formats.KindDigestMismatch, msg: "extra/w.npy"},
		{name: "text under --ignore-paths (signature)", sign: true, opts: []loader.Option{loader.WithExclude("extra")}, change: func(t *testing.T, d string) {
			require.NoError(t, os.MkdirAll(filepath.Join(d, "extra"), 0o755))
			writeFile(t, filepath.Join(d, "extra", "notes.txt"), []byte("hello\n"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := model(t)
			var opt loader.Option
			if tc.sign {
				opt = signed(t, dir, tc.ignore...)
			} else {
				opt = loader.WithAllowlist(allowlistOf(t, dir))
			}
			m, err := loader.Open(ctx, dir, opt)
			require.NoError(t, err, "as approved")
			m.Close()
			tc.change(t, dir)
			m, err = loader.Open(ctx, dir, append([]loader.Option{opt}, tc.opts...)...)
			if tc.kind == "" {
				require.NoError(t, err)
				m.Close()
				return
			}
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
			if err != nil {
				assert.Contains(t, err.Error(), tc.msg)
			}
		})
	}
}

// TestRemoteCodeRefused: code that runs on load is refused with kind
// code, and accepted only when allowed and covered (issue 13, finding 7).
func TestRemoteCodeRefused(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"*.py":                      {"modeling_x.py": "# coding=utf-8\nimport torch\n"},
		"auto_map in config.json":   {"config.json": `{"auto_map": {"AutoModel": "modeling_x.X"}}`},
		"escaped auto_map":          {"config.json": `{"auto\u005fmap": {"AutoModel": "modeling_x.X"}}`},
		"auto_map in tokenizer cfg": {"tokenizer_config.json": `{"auto_map": {"AutoTokenizer": ["t.T", null]}}`},
		"custom_pipelines":          {"config.json": `{"custom_pipelines": {"x": {"impl": "p.P"}}}`},
		"unreadable JSON naming it": {"config.json": `{"a": NaN, "auto_map": {}}`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := model(t)
			for n, b := range files {
				writeFile(t, filepath.Join(dir, n), []byte(b))
			}
			_, err := loader.Open(ctx, dir)
			assert.Equal(t, formats.KindCode, formats.KindOf(err), "%v", err)
			_, err = loader.Open(ctx, dir, loader.WithAllowCodeUnsafe())
			assert.Equal(t, formats.KindCode, formats.KindOf(err), "allowed but covered by nothing: %v", err)
			m, err := loader.Open(ctx, dir, loader.WithAllowCodeUnsafe(), loader.WithAllowlist(allowlistOf(t, dir)))
			require.NoError(t, err, "allowed and approved by digest")
			m.Close()
			res, err := loader.Scan(ctx, []string{dir}, loader.ScanOptions{})
			require.NoError(t, err)
			var kinds []formats.Kind
			for _, r := range res {
				kinds = append(kinds, r.Kind)
			}
			assert.Contains(t, kinds, formats.KindCode, "scan reports it the same way")
		})
	}
	dir := model(t)
	writeFile(t, filepath.Join(dir, "generation_config.json"), []byte(`{"NaN_ok": 1, "do_sample": true}`))
	m, err := loader.Open(ctx, dir)
	require.NoError(t, err, "a config without remote code is inert")
	m.Close()
}

// TestWeightsTheIndexDoesNotName: a sharded checkpoint with an extra
// weight file is refused (issue 13, finding 3).
func TestWeightsTheIndexDoesNotName(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "model-00001-of-00001.safetensors"), stFile(t, formats.F32, "w"))
	writeFile(t, filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"metadata": {}, "weight_map": {"w": "model-00001-of-00001.safetensors"}}`))
	m, err := loader.Open(ctx, dir)
	require.NoError(t, err)
	m.Close()
	writeFile(t, filepath.Join(dir, "model-extra.safetensors"), stFile(t, formats.F32, "evil"))
	_, err = loader.Open(ctx, dir)
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "model-extra.safetensors")
}

// TestSpecialFilesRefused: a FIFO, in a model directory or given as the
// file, refuses the model at once instead of hanging it (issue 18, 5).
func TestSpecialFilesRefused(t *testing.T) {
	dir := model(t)
	fifo := filepath.Join(dir, "pipe.safetensors")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for _, p := range []string{dir, fifo} {
		_, err := loader.Open(ctx, p)
		assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%s: %v", p, err)
	}
	res, err := loader.Scan(ctx, []string{dir}, loader.ScanOptions{})
	require.NoError(t, err)
	for _, r := range res {
		if filepath.Base(r.Path) == "pipe.safetensors" {
			assert.Equal(t, loader.Refused, r.Verdict)
			assert.Equal(t, formats.KindUnsupported, r.Kind)
		}
	}
}

// TestDiagnosisByName: content no format recognises, under a weight
// file's name, gets that parser's precise refusal (issue 12).
func TestDiagnosisByName(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "model.safetensors")
	writeFile(t, p, append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, `{"w":1}`...))
	_, err := loader.Open(ctx, p)
	assert.Contains(t, []formats.Kind{formats.KindMalformed, formats.KindLimitExceeded}, formats.KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "18446744073709551615")
	other, _ := verify.NewAllowlist(verify.NewEntry("x", verify.SHA256, verify.Digest{1}))
	_, err = loader.Open(ctx, p, loader.WithAllowlist(other))
	assert.Equal(t, formats.KindNotAllowlisted, formats.KindOf(err), "an unapproved file is refused before any parser sees it")
}

// TestBrokenZipIsMalformed: an npz whose directory no reader can find is
// malformed, not unsupported (issue 12).
func TestBrokenZipIsMalformed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "weights.npz")
	b := testdata(t, "npz/savez.npz")
	writeFile(t, p, b[:len(b)-30]) // the end record cut off
	_, err := loader.Open(ctx, p)
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "directory cannot be read")
}

// TestProgressThroughTheContext: hashing in Open reports every byte to the
// Progress its context carries, which is how the CLI draws its bars for
// verify, sign and convert (issue 16).
func TestProgressThroughTheContext(t *testing.T) {
	dir := model(t)
	var n atomic.Int64
	pctx := verify.ContextWithProgress(ctx, func(k int64) { n.Add(k) })
	m, err := loader.Open(pctx, dir, loader.WithAllowlist(allowlistOf(t, dir)))
	require.NoError(t, err)
	defer m.Close()
	var total int64
	for _, d := range m.Verified.Digests {
		total += d.Size
	}
	assert.Equal(t, total, n.Load())
}
