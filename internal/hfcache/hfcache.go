// Package hfcache recognises the Hugging Face hub cache layout, in which a
// model's files are links from a snapshot into the repository's blobs:
//
//	models--ORG--NAME/
//	  blobs/<sha256 or git sha1>
//	  snapshots/<revision>/config.json -> ../../blobs/<...>
//
// A snapshot is confined to its models--… folder (not to the snapshot,
// which every link leaves), and its links may resolve only into that
// folder's blobs/.
package hfcache

import (
	"encoding/hex"
	"path"
	"path/filepath"
	"strings"
)

// Root returns the repository folder (models--ORG--NAME, or datasets--,
// spaces--) when dir lies in one of its snapshots, and whether it does.
func Root(dir string) (string, bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for d := abs; ; {
		parent := filepath.Dir(d)
		if parent == d {
			return "", false
		}
		if filepath.Base(parent) == "snapshots" {
			repo := filepath.Dir(parent)
			base := filepath.Base(repo)
			for _, kind := range []string{"models--", "datasets--", "spaces--"} {
				if strings.HasPrefix(base, kind) {
					return repo, true
				}
			}
			return "", false
		}
		d = parent
	}
}

// InBlobs reports whether a link at name (slash-separated, relative to the
// repository folder) with the given target resolves into blobs/, and
// returns the blob's name.
func InBlobs(name, target string) (string, bool) {
	if path.IsAbs(target) {
		return "", false
	}
	resolved := path.Clean(path.Join(path.Dir(name), target))
	blob, ok := strings.CutPrefix(resolved, "blobs/")
	return blob, ok && blob != "" && !strings.Contains(blob, "/")
}

// LFSDigest returns the sha256 a blob's name states: Git LFS files are
// stored under their content's sha256 (64 hex digits); other files under
// a git blob sha1, which states nothing checkable here.
func LFSDigest(blob string) ([]byte, bool) {
	if len(blob) != 64 {
		return nil, false
	}
	d, err := hex.DecodeString(blob)
	return d, err == nil
}
