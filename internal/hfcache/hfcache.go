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
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate/formats"
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
			return repo, repoName(filepath.Base(repo))
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

// Snapshot resolves a repository folder (models--ORG--NAME holding
// snapshots/) to the snapshot a revision names, as huggingface_hub does:
// refs/REVISION holds a commit, whose snapshot is snapshots/COMMIT; a
// revision that names no ref may be a commit with a snapshot. The default
// revision is main. It reports false for anything that is not a
// repository folder.
func Snapshot(dir, revision string) (string, bool, error) {
	if !isRepo(dir) {
		return "", false, nil
	}
	if revision == "" {
		revision = "main"
	}
	if !filepath.IsLocal(revision) || strings.ContainsAny(revision, `\`) {
		return "", false, formats.Errorf(formats.KindUsage, formats.NoOffset, "revision %q is not a ref or commit name", revision)
	}
	commit := revision
	if b, err := os.ReadFile(filepath.Join(dir, "refs", filepath.FromSlash(revision))); err == nil {
		commit = strings.TrimSpace(string(b))
	}
	snap := filepath.Join(dir, "snapshots", commit)
	if !filepath.IsLocal(commit) || strings.Contains(commit, "/") {
		return "", false, formats.Errorf(formats.KindMalformed, formats.NoOffset, "refs/%s names %q, which is not a commit", revision, commit)
	}
	if st, err := os.Stat(snap); err != nil || !st.IsDir() {
		return "", false, formats.Errorf(formats.KindUsage, formats.NoOffset, "revision %q names no snapshot in this cache repository (no refs/%s, no snapshots/%s)", revision, revision, commit)
	}
	return snap, true, nil
}

// isRepo reports whether dir is a cache repository folder: named
// models--…, datasets--… or spaces--… and holding snapshots/.
func isRepo(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil || !repoName(filepath.Base(abs)) {
		return false
	}
	st, err := os.Stat(filepath.Join(abs, "snapshots"))
	return err == nil && st.IsDir()
}

func repoName(base string) bool {
	for _, kind := range []string{"models--", "datasets--", "spaces--"} {
		if strings.HasPrefix(base, kind) {
			return true
		}
	}
	return false
}

// Scheme prefixes a model named by its Hugging Face repository id:
// hf://ORG/NAME or hf://ORG/NAME@REVISION.
const Scheme = "hf://"

// Repo resolves hf://ORG/NAME[@REVISION] to the repository folder in the
// hub cache, found as huggingface_hub finds it: HF_HUB_CACHE, else
// HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub. It returns the folder and the revision ("" if
// none is given).
func Repo(name string) (dir, revision string, err error) {
	id, ok := strings.CutPrefix(name, Scheme)
	if !ok {
		return "", "", formats.Errorf(formats.KindUsage, formats.NoOffset, "%q does not start with %s", name, Scheme)
	}
	id, revision, _ = strings.Cut(id, "@")
	org, repo, ok := strings.Cut(id, "/")
	if !ok || !validPart(org) || !validPart(repo) {
		return "", "", formats.Errorf(formats.KindUsage, formats.NoOffset, "%q: a model is named hf://ORG/NAME[@REVISION]", name)
	}
	return filepath.Join(hubCache(), "models--"+org+"--"+repo), revision, nil
}

func validPart(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`) && !strings.Contains(s, "--")
}

func hubCache() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "hub")
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "huggingface", "hub")
}
