package loader

import (
	"github.com/modelgate/modelgate/formats"

	"github.com/modelgate/modelgate/formats/chattemplate"
)

// WithChatTemplates approves chat templates by digest (chattemplate.Digest:
// "sha256:" and the hex sha256 of the template's text), added to those a
// policy approves. A chat template that reaches what a sandboxed renderer
// forbids (formats/chattemplate) is code, and refused unless approved
// here: in a chat_template.jinja, a JSON file's chat_template, or a GGUF
// file's tokenizer.chat_template.
func WithChatTemplates(digests ...string) Option {
	return func(c *config) error {
		for _, d := range digests {
			if !chattemplate.ValidDigest(d) {
				return formats.Errorf(formats.KindMalformed, formats.NoOffset, "chat template digest %q is not sha256: and 64 lowercase hex digits", d)
			}
		}
		c.checks.ChatTemplates = append(c.checks.ChatTemplates, digests...)
		return nil
	}
}
