package chattemplate_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats/chattemplate"
)

// realTemplates are chat templates real models ship
// (testdata/chattemplate/PROVENANCE.md).
func realTemplates(t testing.TB) map[string]string {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "chattemplate", "*.jinja"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out[filepath.Base(f)] = string(b)
	}
	return out
}

// TestRealTemplatesPass: templates real models ship use nothing the
// sandbox forbids.
func TestRealTemplatesPass(t *testing.T) {
	for name, tpl := range realTemplates(t) {
		assert.Empty(t, chattemplate.Check(tpl), name)
	}
}

// cve202434359 is the payload of CVE-2024-34359 (llama-cpp-python's
// unsandboxed Jinja2 rendering of GGUF chat templates).
const cve202434359 = `{% for x in ().__class__.__base__.__subclasses__() %}{% if "warning" in x.__name__ %}{{x()._module.__builtins__['__import__']('os').popen("touch /tmp/retr0reg")}}{%endif%}{% endfor %}`

// TestForbiddenReachRefused: the CVE payload and every way the package
// doc lists of spelling a forbidden attribute are refused; harmless text
// that mentions one is not.
func TestForbiddenReachRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		tpl  string
		want string // a fragment of the reason; "" passes
	}{
		"CVE-2024-34359":                  {cve202434359, `"__class__"`},
		"attribute mro":                   {`{{ x.__class__.mro() }}`, `"__class__"`},
		"mro alone":                       {`{{ x.mro()[1] }}`, `"mro"`},
		"generator frame":                 {`{{ g.gi_frame.f_globals }}`, `"gi_frame"`},
		"subscript by a dunder string":    {`{{ x['__globals__'] }}`, `"__globals__"`},
		"escaped dunder":                  {`{{ x['\x5f\x5fglobals\x5f\x5f'] }}`, `"__globals__"`},
		"octal-escaped dunder":            {`{{ x["\137\137init\137\137"] }}`, `"__init__"`},
		"a character by name":             {`{{ x['\N{LOW LINE}'] }}`, `\N{`},
		"subscript single underscore":     {`{{ x['_private'] }}`, `"_private"`},
		"attr filter":                     {`{{ x|attr('_module') }}`, `"_module"`},
		"attr filter, computed":           {`{{ x|attr(name) }}`, "not a string literal"},
		"joined in the subscript":         {`{{ x['_' ~ '_cla' ~ 'ss_' ~ '_'] }}`, "built at run time"},
		"joined in a set, then used":      {`{% set k = '_' ~ '_class_' ~ '_' %}{{ x[k] }}`, `"k"`},
		"str.format reads attributes":     {`{{ '{0.a}'.format(x) }}`, `"format"`},
		"format_map":                      {`{{ s.format_map(x) }}`, `"format_map"`},
		"unclosed block":                  {`{{ x`, "unclosed"},
		"unclosed string":                 {`{{ 'x }}`, "unclosed"},
		"a }} inside a string is no end":  {`{{ '}}' ~ x.__class__ }}`, `"__class__"`},
		"a dict literal does not end it":  {`{{ {'a': 1}.__class__ }}`, `"__class__"`},
		"text mentions a dunder":          {"Call __init__ first. {{ message['content'] }}", ""},
		"comment mentions a dunder":       {"{# x.__class__ #}{{ x }}", ""},
		"raw block holds a dunder":        {"{% raw %}{{ x.__class__ }}{% endraw %}{{ y }}", ""},
		"a list literal is no subscript":  {`{% for r in ['user', 'assistant'] %}{{ r }}{% endfor %}`, ""},
		"slices and arithmetic":           {`{{ messages[loop.index0 - 1]['role'] ~ out[:-1] ~ id[-9:] }}`, ""},
		"a set that joins, never indexed": {`{% set s = a ~ b %}{{ m[0] ~ s }}`, ""},
	} {
		got := chattemplate.Check(tc.tpl)
		if tc.want == "" {
			assert.Empty(t, got, name)
		} else {
			assert.Contains(t, got, tc.want, name)
		}
	}
}

func TestDigest(t *testing.T) {
	assert.Equal(t, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", chattemplate.Digest(""))
}

// FuzzCheck checks, for any input: no panic, and the same verdict twice.
func FuzzCheck(f *testing.F) {
	for _, tpl := range realTemplates(f) {
		f.Add(tpl)
	}
	f.Add(cve202434359)
	f.Fuzz(func(t *testing.T, tpl string) {
		require.Equal(t, chattemplate.Check(tpl), chattemplate.Check(tpl))
	})
}
