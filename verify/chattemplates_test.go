package verify_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats/chattemplate"
	"github.com/modelgate/modelgate/verify"
)

// TestPolicyChatTemplates: chat_templates approves templates by digest,
// spelt as chattemplate.Digest spells it, and reaches the checks alone.
func TestPolicyChatTemplates(t *testing.T) {
	d := chattemplate.Digest("{{ x }}")
	p, err := verify.ParsePolicy([]byte("chat_templates: ["+d+"]\n"), t.TempDir())
	require.NoError(t, err, "a policy may say only this")
	c, err := p.Checks()
	require.NoError(t, err)
	assert.Equal(t, []string{d}, c.ChatTemplates)
	for _, bad := range []string{"sha256:ABC", "sha512:" + d[7:], d[7:], "sha256:" + d[8:] + "G"} {
		_, err := verify.ParsePolicy([]byte("chat_templates: ["+bad+"]\n"), t.TempDir())
		assert.ErrorContains(t, err, "chat_templates", bad)
	}
}
