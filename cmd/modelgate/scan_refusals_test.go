//go:build !modelgate_lean

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each malformed --shard, and each flag that does not fit what is
// scanned, is a usage error (exit 2, kind usage) before anything is read.
func TestScanShardAndOCIFlagMistakesAreUsage(t *testing.T) {
	dir := t.TempDir()
	unreachable := "oci://127.0.0.1:1/models/x" // never reached: the flags are refused first
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"shard empty", []string{"--shard", "", unreachable}},
		{"shard without N", []string{"--shard", "1", unreachable}},
		{"shard not numbers", []string{"--shard", "a/b", unreachable}},
		{"shard negative", []string{"--shard", "-1/2", unreachable}},
		{"shard signed", []string{"--shard", "+1/2", unreachable}},
		{"shard index equal to count", []string{"--shard", "2/2", unreachable}},
		{"shard of zero", []string{"--shard", "0/0", unreachable}},
		{"shard leading zero", []string{"--shard", "01/2", unreachable}},
		{"shard three parts", []string{"--shard", "1/2/3", unreachable}},
		{"shard with a space", []string{"--shard", " 1/2", unreachable}},
		{"shard count over the limit", []string{"--shard", "0/1000001", unreachable}},
		{"shard count overflowing", []string{"--shard", "0/99999999999999999999", unreachable}},
		{"shard of a directory", []string{"--shard", "0/2", dir}},
		{"signer flags on a directory", []string{"--key", "k.pub", dir}},
		{"plain-http on a directory", []string{"--plain-http", dir}},
		{"a bundle for every tag", []string{"--bundle", "b.json", "--key", "k.pub", unreachable}},
		{"no registry", []string{"oci://"}},
		{"a malformed tag", []string{"oci://127.0.0.1:1/x:bad*tag"}},
		{"a malformed repository", []string{"oci://127.0.0.1:1/Bad/Repo"}},
		{"jsonl and json on stdout", []string{"--jsonl", "-", dir}},
		{"jsonl and sarif on stdout", []string{"--jsonl", "-", "--sarif", "-", dir}},
		{"merge with a shard", []string{"--merge", "--shard", "0/1", "x.jsonl"}},
		{"merge with a policy", []string{"--merge", "--policy", "p.yaml", "x.jsonl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cliRun(append([]string{"scan", "--json"}, tc.args...)...)
			assert.Equal(t, 2, code, "%s%s", out, errs)
			assert.Equal(t, "usage", jsonKind(t, out), errs)
		})
	}
}

// merge refuses, as usage, every line it cannot read and every set of
// files that is not all the shards of one scan, each complete; a file
// that does not read is io.
func TestScanMergeRefusesWhatIsNotAllShards(t *testing.T) {
	const (
		ok     = `{"path":"oci://r/m:v1@sha256:0000000000000000000000000000000000000000000000000000000000000000","verdict":"accepted","size":8,"tag":"v1","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}`
		ok2    = `{"path":"oci://r/m:v2","verdict":"refused","kind":"io","reason":"gone","size":0,"tag":"v2"}`
		end01  = `{"end":{"shard":"0/1","scopes":["oci://r"],"results":1}}`
		end02  = `{"end":{"shard":"0/2","scopes":["oci://r"],"results":1}}`
		end12  = `{"end":{"shard":"1/2","scopes":["oci://r"],"results":1}}`
		end12b = `{"end":{"shard":"1/2","scopes":["oci://other"],"results":1}}`
	)
	lines := func(l ...string) string { return strings.Join(l, "\n") + "\n" }
	for _, tc := range []struct {
		name  string
		files []string
		want  string // a fragment of the message
	}{
		{"not JSON", []string{lines("hello", end01)}, "a.jsonl:1: not a scan result"},
		{"a blank line", []string{lines("", ok, end01)}, "a.jsonl:1:"},
		{"an unknown member", []string{lines(strings.Replace(ok, `"size"`, `"extra":1,"size"`, 1), end01)}, `unknown field "extra"`},
		{"two objects on a line", []string{lines(ok+ok, end01)}, "not one JSON object"},
		{"an array", []string{lines(`[`+ok+`]`, end01)}, "not a scan result"},
		{"null", []string{lines("null", end01)}, "not a JSON object"},
		{"no path", []string{lines(`{"verdict":"accepted","size":0}`, end01)}, "no path"},
		{"an unknown verdict", []string{lines(strings.Replace(ok, `"accepted"`, `"fine"`, 1), end01)}, `verdict "fine"`},
		{"a refusal of no kind", []string{lines(strings.Replace(ok2, `"io"`, `"evil"`, 1), end01)}, `kind "evil"`},
		{"an acceptance with a kind", []string{lines(strings.Replace(ok, `"accepted"`, `"accepted","kind":"pickle"`, 1), end01)}, "with kind"},
		{"a negative size", []string{lines(strings.Replace(ok, `"size":8`, `"size":-8`, 1), end01)}, "negative"},
		{"a malformed digest", []string{lines(strings.Replace(ok, `"digest":"sha256:00`, `"digest":"sha256:zz`, 1), end01)}, "digest"},
		{"a path escaped as modelgate does not", []string{lines(strings.Replace(ok, `oci://r/m`, `oci-layout:l\\q`, 1), end01)}, "not text as safetext.Escape writes it"},
		{"a path with an escape of a plain byte", []string{lines(strings.Replace(ok, `oci://r/m`, `oci-layout:l\\x41`, 1), end01)}, "path"},
		{"a path with a control unescaped", []string{lines(strings.Replace(ok, `oci://r/m`, `oci-layout:l\u001b`, 1), end01)}, "path"},
		{"a reason with a lone backslash", []string{lines(strings.Replace(ok2, `"gone"`, `"gone\\"`, 1), end01)}, "reason"},
		{"no end line", []string{lines(ok)}, "no end line"},
		{"a line after the end", []string{lines(ok, end01, ok2)}, "a line after the end line"},
		{"a count the end denies", []string{lines(ok, ok2, end01)}, "2 results, its end line says 1"},
		{"an end line with a result's members", []string{lines(ok, `{"path":"x","end":{"shard":"0/1","scopes":["oci://r"],"results":1}}`)}, "end line with a result"},
		{"an end line with no scopes", []string{lines(ok, `{"end":{"shard":"0/1","scopes":[],"results":1}}`)}, "no scopes"},
		{"an end line naming no shard", []string{lines(ok, `{"end":{"shard":"2/1","scopes":["oci://r"],"results":1}}`)}, "end line: shard"},
		{"a line too long", []string{lines(`{"path":"`+strings.Repeat("a", maxLine)+`"}`, end01)}, "longer than"},
		{"a shard missing", []string{lines(ok, end02)}, "shard 1/2 is missing"},
		{"a shard given twice", []string{lines(ok, end02), lines(ok2, end02)}, "given twice"},
		{"shards that overlap", []string{lines(ok, end02), lines(ok, end12)}, "the shards overlap"},
		{"shards of other scans", []string{lines(ok, end02), lines(ok2, end12b)}, "not shards of one scan"},
		{"shards of other counts", []string{lines(ok, end01), lines(ok2, end12)}, "one of 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var args []string
			for i, f := range tc.files {
				p := filepath.Join(dir, string(rune('a'+i))+".jsonl")
				require.NoError(t, os.WriteFile(p, []byte(f), 0o644))
				args = append(args, p)
			}
			code, out, errs := cliRun(append([]string{"scan", "--json", "--merge"}, args...)...)
			assert.Equal(t, 2, code, "%s%s", out, errs)
			assert.Equal(t, "usage", jsonKind(t, out), errs)
			assert.Contains(t, errs, tc.want)
		})
	}

	t.Run("complete shards merge", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
		require.NoError(t, os.WriteFile(a, []byte(lines(ok, end02)), 0o644))
		require.NoError(t, os.WriteFile(b, []byte(lines(ok2, end12)), 0o644))
		code, out, errs := cliRun("scan", "--json", "--merge", b, a)
		assert.Equal(t, 3, code, "the worst refusal is io: %s", errs)
		assert.Equal(t, "io", jsonKind(t, out))
		assert.Less(t, strings.Index(out, "m:v1@"), strings.Index(out, "m:v2"), "in path order")
	})
	t.Run("a file that does not read", func(t *testing.T) {
		code, out, _ := cliRun("scan", "--json", "--merge", filepath.Join(t.TempDir(), "none.jsonl"))
		assert.Equal(t, 3, code)
		assert.Equal(t, "io", jsonKind(t, out))
	})
}

// FuzzJSONLine: a line either parses to a result or end line that writes
// back to a line parsing to the same, or is refused; never a panic.
func FuzzJSONLine(f *testing.F) {
	for _, s := range []string{
		`{"path":"oci://r/m:v1@sha256:0000000000000000000000000000000000000000000000000000000000000000","verdict":"accepted","size":8,"tag":"v1","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}`,
		`{"path":"oci://r/m:v2","verdict":"refused","kind":"io","reason":"gone","size":0,"tag":"v2"}`,
		`{"path":"d/x.txt","format":"unknown","verdict":"ignored","reason":"text","size":3}`,
		`{"end":{"shard":"0/2","scopes":["oci://r"],"results":1}}`,
		`{"end":{"shard":"0/2","scopes":[],"results":1}}`, `null`, `[]`, `{}`, `{"path":"x","verdict":"refused","kind":"pickle","size":1}{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, end, err := parseJSONLine(b)
		if err != nil {
			return
		}
		var line []byte
		if end != nil {
			line, err = marshal(struct {
				End shardEnd `json:"end"`
			}{*end})
		} else {
			line, err = marshalJSONLine(r)
		}
		require.NoError(t, err)
		r2, end2, err := parseJSONLine(line)
		require.NoError(t, err, "%s", line)
		if end != nil {
			require.Equal(t, *end, *end2)
			return
		}
		require.Equal(t, r, r2)
	})
}
