package loader

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
)

// FuzzIndex parses sharded-checkpoint indexes: no input panics, refusals
// have known kinds, and every accepted shard name is a clean relative path.
func FuzzIndex(f *testing.F) {
	for _, s := range []string{
		`{"metadata": {"total_size": 12}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}`,
		`{"weight_map": {"a": "../x.safetensors"}}`,
		`{"weight_map": {"a": "s", "a": "t"}}`,
		`{"weight_map": {}, "extra": 1}`,
		`{"weight_map": {"a": "/etc/passwd"}}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	lim := formats.Limits{MaxTensors: 1000}.WithDefaults()
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := parseIndex(b, lim)
		if err != nil {
			k := formats.KindOf(err)
			require.Contains(t, []formats.Kind{formats.KindMalformed, formats.KindPathTraversal, formats.KindLimitExceeded}, k, "%v", err)
			return
		}
		for _, s := range idx.shards {
			require.True(t, fs.ValidPath(s) && s != "." && !strings.Contains(s, `\`), "shard %q", s)
		}
	})
}
