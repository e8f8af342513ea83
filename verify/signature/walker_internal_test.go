package signature

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSignedVCSResourcesAreNotCompared: model_signing hashes a top-level
// .hg or .svn, which the walker does not enter; a manifest it signed lists
// them, and those resources are left out of the comparison (nothing loads
// them), while a nested one stays.
func TestSignedVCSResourcesAreNotCompared(t *testing.T) {
	res := map[string]string{"w.safetensors": "1", ".hg/store/x": "2", ".svn/wc.db:0:4": "3", "sub/.hg/x": "4"}
	assert.Equal(t, map[string]string{"w.safetensors": "1", "sub/.hg/x": "4"}, withoutVCS(res, []string{".hg", ".svn"}))
	assert.Equal(t, res, withoutVCS(res, nil))
}

// TestShardResourcesNameTheirFile: an exclusion asks whether a file is
// signed, by its shards' names too.
func TestShardResourcesNameTheirFile(t *testing.T) {
	m := &manifest{method: "shards", resources: map[string]string{"README.md:0:10": "a", "a:b.txt:0:4": "b"}}
	assert.Equal(t, map[string]bool{"README.md": true, "a:b.txt": true}, m.signedFiles())
	m = &manifest{method: "files", resources: map[string]string{"a:0:1": "x"}}
	assert.Equal(t, map[string]bool{"a:0:1": true}, m.signedFiles())
}
