package formats

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestKindsBySeverityListsEveryKindOnce: the severity order ranks every
// kind, so that no refusal falls out of it.
func TestKindsBySeverityListsEveryKindOnce(t *testing.T) {
	assert.ElementsMatch(t, Kinds, KindsBySeverity)
}

// TestMoreSevere: what runs code outranks what reaches outside the model,
// which outranks tampering, broken bytes, unknown formats and I/O.
func TestMoreSevere(t *testing.T) {
	for _, tc := range []struct{ a, b Kind }{
		{KindPickle, KindUnknownFormat},
		{KindCode, KindUnknownFormat},
		{KindPickle, KindMalformed},
		{KindPathTraversal, KindDigestMismatch},
		{KindDigestMismatch, KindMalformed},
		{KindMalformed, KindUnsupported},
		{KindUnknownFormat, KindIO},
		{KindIO, ""},
	} {
		assert.True(t, MoreSevere(tc.a, tc.b), "%s before %s", tc.a, tc.b)
		assert.False(t, MoreSevere(tc.b, tc.a), "%s after %s", tc.b, tc.a)
	}
	assert.False(t, MoreSevere(KindPickle, KindPickle))
}
