// Package modeltree is modelgate's one reading of which files make up a
// model. The loader (Open and Scan), hash, sign, verify and the progress
// bar all list a model through List, so that hash then verify and sign
// then verify see the same files (README, "What a model is"):
//
//   - a file is a model of one file; a directory is every regular file
//     below it, at any depth, named by its slash-separated path relative
//     to the directory and sorted by those names (byte order);
//   - the directories .git, .hg and .svn directly in the model directory
//     are not entered: they are version-control metadata (git-lfs keeps
//     copies of the weights under .git/lfs), nothing loads from them, and
//     model_signing leaves .git out of every manifest. Directories of
//     those names deeper down are ordinary folders of the model, whose
//     files must be covered like any other;
//   - a symbolic link is refused (kind path-traversal), as model_signing
//     refuses it by default, except in a Hugging Face cache snapshot,
//     where every link must resolve into the repository's blobs/, and
//     under an explicit wider root (Options.Root, loader.WithRoot), where
//     it must stay inside that root; there it is the file it names;
//   - a FIFO, socket or device is refused (kind unsupported): a reader
//     could block on it or read it forever;
//   - a name that is not UTF-8 is refused (kind unsupported): sums files,
//     manifests and JSON reports could not keep it apart from others;
//   - a Hugging Face cache repository folder (models--ORG--NAME) is the
//     snapshot its refs/main names, or the revision Options.Revision names
//     (a ref or a snapshot's commit); hf://ORG/NAME[@REVISION] names that
//     folder in the hub cache, found as huggingface_hub finds it
//     (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub).
//
// Directories are walked each through a handle opened relative to its
// parent's (os.Root.OpenRoot, openat), so that listing costs time linear in
// the tree's size and depth; a handle is held only while later siblings
// still need it, so a chain of directories holds a constant number.
//
// A refused entry is reported in File.Err rather than ending the walk, so
// that scan can report every file; every other caller refuses the model
// with Model.Err.
package modeltree

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/hfcache"
	"github.com/modelgate/modelgate/internal/regular"
)

// VCSDirs are the version-control directories not entered at a model's top.
var VCSDirs = []string{".git", ".hg", ".svn"}

// File is one file of a model.
type File struct {
	Name string // slash-separated, relative to the model directory (a single file: its base name)
	Size int64
	// Blob is, in a Hugging Face cache snapshot, the blob the file's link
	// resolves to ("" for a plain file).
	Blob string
	// Err says why the entry cannot be part of a model (a link, a special
	// file, a name that is not UTF-8, a directory that does not read);
	// nil for a regular file.
	Err error
}

// Model is a model as List found it.
type Model struct {
	Path    string // as given
	Dir     string // the model directory (a cache repository folder: its snapshot; a file: its directory)
	Single  string // a single-file model's base name, else ""
	RootDir string // the directory every file is opened below: Dir, Options.Root, or a cache repository folder
	Prefix  string // Dir relative to RootDir, slash-separated ("." for itself)
	Cache   bool   // the model is a Hugging Face cache snapshot
	VCS     []string
	Files   []File
}

// Options changes how List reads a path.
type Options struct {
	// Revision picks a Hugging Face cache repository folder's snapshot: a
	// ref (refs/NAME) or a commit with a snapshot. Default main. A
	// revision given for anything else is a usage error.
	Revision string
	// Root confines every file to this directory, which must hold the
	// model (default: the model directory, or a cache repository folder).
	Root string
}

// RootName turns a name relative to the model directory into one
// relative to RootDir.
func (m *Model) RootName(name string) string { return path.Join(m.Prefix, name) }

// Err is the first refused entry's error, with its name, or nil.
func (m *Model) Err() error {
	for _, f := range m.Files {
		if f.Err != nil {
			return f.Err
		}
	}
	return nil
}

// OpenRoot opens the root every file of the model is opened through.
func (m *Model) OpenRoot() (*os.Root, error) {
	r, err := os.OpenRoot(m.RootDir)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), m.RootDir)
	}
	return r, nil
}

// List lists the files of the model at p (a file, a directory, or a
// Hugging Face cache snapshot or repository folder). Its error is for the
// model as a whole (it does not exist, it is not inside Options.Root, a
// revision that does not resolve); entries it refuses are in File.Err.
func List(p string, o Options) (*Model, error) {
	m := &Model{Path: p, Dir: p}
	if strings.HasPrefix(p, hfcache.Scheme) {
		repo, rev, err := hfcache.Repo(p)
		if err != nil {
			return nil, err
		}
		if rev != "" && o.Revision != "" && rev != o.Revision {
			return nil, formats.WithPath(formats.Errorf(formats.KindUsage, formats.NoOffset, "revision %q given twice, the other %q", rev, o.Revision), p)
		}
		if rev != "" {
			o.Revision = rev
		}
		m.Dir = repo
		if _, err := os.Stat(filepath.Join(repo, "snapshots")); err != nil {
			return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), p)
		}
		p = repo
	}
	if snap, ok, err := hfcache.Snapshot(p, o.Revision); err != nil {
		return nil, formats.WithPath(err, p)
	} else if ok {
		m.Dir = snap
	} else if o.Revision != "" {
		return nil, formats.WithPath(formats.Errorf(formats.KindUsage, formats.NoOffset, "a revision picks a snapshot of a Hugging Face cache repository folder (models--ORG--NAME), and this is none"), p)
	}
	st, err := os.Stat(m.Dir)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), p)
	}
	if !st.IsDir() {
		m.Dir, m.Single = filepath.Dir(m.Dir), filepath.Base(m.Dir)
	}
	if err := m.confine(o.Root); err != nil {
		return nil, err
	}
	if m.Single != "" {
		f := File{Name: m.Single, Size: st.Size()}
		if !st.Mode().IsRegular() {
			f.Err = formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%w", regular.NotRegular(st.Mode())), p)
		}
		m.Files = []File{f}
		return m, nil
	}
	top, err := m.OpenRoot()
	if err != nil {
		return nil, err
	}
	defer top.Close()
	start, err := top.OpenRoot(m.Prefix)
	if err != nil {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), m.Dir)
	}
	w := &walker{m: m, top: top}
	w.dir(start, ".")
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return m, nil
}

// confine places the model in its root: a cache snapshot's repository
// folder, Options.Root, or the model directory itself.
func (m *Model) confine(root string) error {
	cache, isCache := hfcache.Root(m.Dir)
	switch {
	case isCache && (root == "" || sameDir(root, cache)):
		m.RootDir, m.Cache = cache, true
	case root != "":
		m.RootDir = root
	default:
		m.RootDir = m.Dir
	}
	absRoot, err1 := filepath.Abs(m.RootDir)
	absDir, err2 := filepath.Abs(m.Dir)
	rel, err3 := filepath.Rel(absRoot, absDir)
	if err := errors.Join(err1, err2, err3); err != nil || !(rel == "." || filepath.IsLocal(rel)) {
		return formats.WithPath(formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "the model is not inside the root %s", m.RootDir), m.Path)
	}
	m.Prefix = filepath.ToSlash(rel)
	return nil
}

func sameDir(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}

type walker struct {
	m   *Model
	top *os.Root // RootDir, to resolve a cache link's target
}

func (w *walker) add(f File) { w.m.Files = append(w.m.Files, f) }

func (w *walker) refuse(name string, k formats.Kind, format string, args ...any) {
	w.add(File{Name: name, Err: formats.WithPath(formats.Errorf(k, formats.NoOffset, format, args...), name)})
}

// dir lists the directory r (named rel below the model directory) and
// what lies below it, and closes r: files first, then each subdirectory
// through a handle opened from r, r being closed before its last
// subdirectory is entered.
func (w *walker) dir(r *os.Root, rel string) {
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	entries, err := readDir(r)
	if err != nil {
		w.refuse(rel, formats.KindIO, "%v", err)
		return
	}
	var dirs []string
	for _, e := range entries {
		name := join(rel, e.Name())
		switch t := e.Type(); {
		case rel == "." && slices.Contains(VCSDirs, e.Name()):
			w.m.VCS = append(w.m.VCS, e.Name())
		case !utf8.ValidString(e.Name()):
			w.refuse(name, formats.KindUnsupported, "file name is not UTF-8: sums files, manifests and reports could not keep it apart from others")
		case t.IsDir():
			dirs = append(dirs, e.Name())
		case t&fs.ModeSymlink != 0:
			w.link(r, name, e.Name())
		case !t.IsRegular():
			w.refuse(name, formats.KindUnsupported, "%v", regular.NotRegular(t))
		default:
			st, err := r.Lstat(e.Name())
			if err != nil {
				w.refuse(name, formats.KindIO, "%v", err)
				continue
			}
			w.add(File{Name: name, Size: st.Size()})
		}
	}
	for i, d := range dirs {
		child, err := r.OpenRoot(d)
		if i == len(dirs)-1 {
			r.Close()
			r = nil
		}
		if err != nil {
			w.refuse(join(rel, d), formats.KindIO, "%v", err)
			continue
		}
		w.dir(child, join(rel, d))
	}
}

// Escapes reports whether err from os.Root means a name left the root.
// os.Root exports no sentinel for an escape: it says "path escapes from
// parent", and refuses some names with os.ErrInvalid. This is the one
// place that reads its message.
func Escapes(err error) bool {
	return strings.Contains(err.Error(), "path escapes") || errors.Is(err, os.ErrInvalid)
}

// join names an entry of the directory rel: rel is clean already, so no
// path.Clean pass over a name as long as the tree is deep.
func join(rel, name string) string {
	if rel == "." {
		return name
	}
	return rel + "/" + name
}

func readDir(r *os.Root) ([]fs.DirEntry, error) {
	d, err := r.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}

// link handles a symbolic link: refused in a model that is its own root;
// in a cache snapshot it must resolve into the repository's blobs/, and
// under a wider Options.Root it must stay inside that root; then it is
// the regular file it names.
func (w *walker) link(r *os.Root, name, base string) {
	if !w.m.Cache && w.m.Prefix == "." {
		w.refuse(name, formats.KindPathTraversal, "symbolic link: a model's files must be its own (model_signing refuses links too)")
		return
	}
	blob, at := "", w.m.RootName(name)
	if w.m.Cache {
		target, err := r.Readlink(base)
		if err != nil {
			w.refuse(name, formats.KindIO, "%v", err)
			return
		}
		var ok bool
		if blob, ok = hfcache.InBlobs(at, target); !ok {
			w.refuse(name, formats.KindPathTraversal, "a cache snapshot's link must resolve into the repository's blobs/, and this one points to %q", target)
			return
		}
		at = path.Join("blobs", blob)
	}
	st, err := w.top.Stat(at)
	switch {
	case err != nil && Escapes(err):
		w.refuse(name, formats.KindPathTraversal, "symbolic link leaves the root %s: %v", w.m.RootDir, err)
	case err != nil:
		w.refuse(name, formats.KindIO, "%v", err)
	case !st.Mode().IsRegular():
		w.refuse(name, formats.KindUnsupported, "%v", regular.NotRegular(st.Mode()))
	default:
		w.add(File{Name: name, Size: st.Size(), Blob: blob})
	}
}
