package loader_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/chattemplate"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/internal/ggufwrite"
	"github.com/modelgate/modelgate/loader"
)

// cveTemplate is CVE-2024-34359's payload.
const cveTemplate = `{% for x in ().__class__.__base__.__subclasses__() %}{% if "warning" in x.__name__ %}{{x()._module.__builtins__['__import__']('os').popen("id")}}{%endif%}{% endfor %}`

const safeTemplate = `{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] }}{% endfor %}`

var emptySafetensors = []byte("\x18\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}     ")

// modelWith writes a model directory: empty weights beside the files given.
func modelWith(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), emptySafetensors, 0o644))
	for name, data := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	return dir
}

func tokenizerConfig(t *testing.T, template any) string {
	b, err := json.Marshal(map[string]any{"chat_template": template, "eos_token": "</s>"})
	require.NoError(t, err)
	return string(b)
}

// TestChatTemplatesRefusedUnlessApproved: a chat template that reaches
// what jinja2's sandbox forbids is code wherever it is (a JSON
// chat_template, a named template list, chat_template.jinja, GGUF
// metadata), refused with kind code, and loads once its digest is
// approved; a safe template loads as it is.
func TestChatTemplatesRefusedUnlessApproved(t *testing.T) {
	ggufWith := func(template string) string {
		p := filepath.Join(t.TempDir(), "m.gguf")
		f := ggufwrite.File{KVs: []ggufwrite.KV{
			{Key: "general.architecture", VT: gguf.String, Val: "llama"},
			{Key: "tokenizer.chat_template", VT: gguf.String, Val: template},
		}, Tensors: []ggufwrite.Tensor{{Name: "w", Dims: []uint64{2}, Type: gguf.Type(0), Size: 8, Offset: -1}}}
		require.NoError(t, os.WriteFile(p, f.Build(), 0o644))
		return p
	}
	for name, tc := range map[string]struct {
		model func(template string) string
	}{
		"tokenizer_config.json": {func(tpl string) string {
			return modelWith(t, map[string]string{"tokenizer_config.json": tokenizerConfig(t, tpl)})
		}},
		"named templates": {func(tpl string) string {
			return modelWith(t, map[string]string{"tokenizer_config.json": tokenizerConfig(t, []map[string]string{{"name": "default", "template": safeTemplate}, {"name": "tool_use", "template": tpl}})})
		}},
		"chat_template.jinja": {func(tpl string) string {
			return modelWith(t, map[string]string{"chat_template.jinja": tpl})
		}},
		"additional_chat_templates": {func(tpl string) string {
			return modelWith(t, map[string]string{"additional_chat_templates/tools.jinja": tpl})
		}},
		"GGUF metadata": {ggufWith},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loader.Open(ctx, tc.model(cveTemplate))
			assert.Equal(t, formats.KindCode, formats.KindOf(err), "%v", err)
			assert.ErrorContains(t, err, chattemplate.Digest(cveTemplate))

			m, err := loader.Open(ctx, tc.model(cveTemplate), loader.WithChatTemplates(chattemplate.Digest(cveTemplate)))
			require.NoError(t, err, "approved by digest")
			m.Close()

			_, err = loader.Open(ctx, tc.model(cveTemplate), loader.WithChatTemplates(chattemplate.Digest(safeTemplate)))
			assert.Equal(t, formats.KindCode, formats.KindOf(err), "another template's digest approves nothing here")

			m, err = loader.Open(ctx, tc.model(safeTemplate))
			require.NoError(t, err, "a safe template")
			m.Close()
		})
	}
}

// TestScanRefusesUnsafeChatTemplate: scan reads templates as Open does.
func TestScanRefusesUnsafeChatTemplate(t *testing.T) {
	dir := modelWith(t, map[string]string{"chat_template.jinja": cveTemplate, "tokenizer_config.json": tokenizerConfig(t, safeTemplate)})
	for _, tc := range []struct {
		name, verdict string
		kind          formats.Kind
	}{{"chat_template.jinja", loader.Refused, formats.KindCode}, {"tokenizer_config.json", loader.Ignored, ""}} {
		f, err := os.Open(filepath.Join(dir, tc.name))
		require.NoError(t, err)
		st, _ := f.Stat()
		r := loader.CheckFile(f, st.Size(), tc.name, formats.Limits{})
		f.Close()
		assert.Equal(t, tc.verdict, r.Verdict, tc.name)
		assert.Equal(t, tc.kind, r.Kind, tc.name)
	}
}

func TestWithChatTemplatesRefusesAMalformedDigest(t *testing.T) {
	_, err := loader.Open(ctx, modelWith(t, nil), loader.WithChatTemplates("sha256:ABC"))
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err))
}

// TestScanHonoursApprovedChatTemplates: scan approves what Open approves.
func TestScanHonoursApprovedChatTemplates(t *testing.T) {
	dir := modelWith(t, map[string]string{"chat_template.jinja": cveTemplate})
	verdict := func(opts loader.ScanOptions) string {
		res, err := loader.Scan(ctx, []string{dir}, opts)
		require.NoError(t, err)
		for _, r := range res {
			if filepath.Base(r.Path) == "chat_template.jinja" {
				return r.Verdict
			}
		}
		return ""
	}
	assert.Equal(t, loader.Refused, verdict(loader.ScanOptions{}))
	assert.Equal(t, loader.Ignored, verdict(loader.ScanOptions{ChatTemplates: []string{chattemplate.Digest(cveTemplate)}}))
}
