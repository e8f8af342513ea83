package content

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/chattemplate"
	"github.com/modelgate/modelgate/formats/gguf"
)

// Template is a chat template a file carries: Jinja that a chat
// renderer runs (formats/chattemplate).
type Template struct {
	Key    string // where: the file name, a JSON key (chat_template, chat_template.NAME) or a GGUF key
	Digest string // chattemplate.Digest of its text: what a policy approves
	// Unsafe says what the template reaches that a sandboxed renderer
	// forbids; "" when it reaches nothing such.
	Unsafe string
}

// Code says what in the file runs code on load, leaving out the unsafe
// templates whose digests approved lists: Why for Python and remote code,
// else the first unapproved unsafe template; "" for none.
func (id Identity) Code(approved []string) string {
	if id.Role == Code {
		return id.Why
	}
	for _, t := range id.Templates {
		if t.Unsafe != "" && !slices.Contains(approved, t.Digest) {
			return fmt.Sprintf("chat template %s reaches %s, which a sandboxed renderer forbids (%s)", t.Key, t.Unsafe, t.Digest)
		}
	}
	return ""
}

func newTemplate(key, text string) Template {
	return Template{Key: key, Digest: chattemplate.Digest(text), Unsafe: chattemplate.Check(text)}
}

// jinjaTemplate reads a text file transformers loads as a chat template
// by its name: chat_template.jinja, and additional_chat_templates/*.jinja.
func jinjaTemplate(r io.ReaderAt, size int64, name string) ([]Template, error) {
	if path.Ext(name) != ".jinja" {
		return nil, nil
	}
	if size > chattemplate.MaxBytes {
		return []Template{{Key: path.Base(name), Unsafe: fmt.Sprintf("a template of %d bytes (MaxBytes=%d)", size, chattemplate.MaxBytes)}}, nil
	}
	b, err := readAll(r, size)
	if err != nil {
		return nil, err
	}
	return []Template{newTemplate(path.Base(name), string(b))}, nil
}

// jsonTemplates reads the top-level chat_template of a JSON file
// (tokenizer_config.json, a processor's chat_template.json): a string, or
// a list of {"name", "template"} objects. JSON that cannot be read but
// mentions chat_template carries a template nothing proves safe.
func jsonTemplates(b []byte) []Template {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		if bytes.Contains(b, []byte("chat_template")) || bytes.Contains(b, []byte(`\u`)) {
			return []Template{{Key: "chat_template", Unsafe: "JSON that cannot be read, so the template cannot be checked"}}
		}
		return nil
	}
	raw, ok := top["chat_template"]
	if !ok {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []Template{newTemplate("chat_template", one)}
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return nil
		}
		return []Template{{Key: "chat_template", Unsafe: "a chat_template that is neither a string nor a list of named templates"}}
	}
	var out []Template
	for _, t := range named {
		out = append(out, newTemplate("chat_template."+t.Name, t.Template))
	}
	return out
}

// ggufTemplates reads the chat templates of a GGUF file's metadata
// (tokenizer.chat_template, tokenizer.chat_template.NAME). A file the
// parser refuses carries none here: the loader refuses it when it parses
// it.
func ggufTemplates(r io.ReaderAt, size int64, lim formats.Limits) []Template {
	g, err := gguf.NewReader(r, size, lim)
	if err != nil {
		return nil
	}
	var out []Template
	for _, kv := range g.Metadata {
		if kv.Key != "tokenizer.chat_template" && !strings.HasPrefix(kv.Key, "tokenizer.chat_template.") {
			continue
		}
		if s, ok := kv.Value.(string); ok {
			out = append(out, newTemplate(kv.Key, s))
		} else {
			out = append(out, Template{Key: kv.Key, Unsafe: "a template that is not a string"})
		}
	}
	return out
}

func readAll(r io.ReaderAt, size int64) ([]byte, error) {
	b := make([]byte, size)
	if n, err := r.ReadAt(b, 0); int64(n) < size {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, formats.IOError(int64(n), err)
	}
	return b, nil
}
