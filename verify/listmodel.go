package verify

import (
	"errors"
	"io"
	"path/filepath"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/content"
	"github.com/modelgate/modelgate/internal/modeltree"
	"github.com/modelgate/modelgate/internal/regular"
)

// ListModel lists the files of a model (a file, a directory, or a Hugging
// Face cache snapshot or repository folder) as every command reads a model
// (internal/modeltree: top-level .git, .hg and .svn left out; links,
// special files and names that are not UTF-8 refused), reading each file's
// first bytes to tell which are inert; digests are computed when a check
// asks for them (ModelDigests.Sum).
func ListModel(path string) (*ModelDigests, error) { return ListModelRevision(path, "") }

// ListModelRevision is ListModel for the snapshot of a Hugging Face cache
// repository folder that revision names (a ref or a commit; "" for main).
func ListModelRevision(path, revision string) (*ModelDigests, error) {
	tree, err := modeltree.List(path, modeltree.Options{Revision: revision})
	if err != nil {
		return nil, err
	}
	if err := tree.Err(); err != nil {
		return nil, err
	}
	md := &ModelDigests{Root: tree.Dir, VCS: tree.VCS}
	if tree.Single != "" {
		md.Root, md.Single = filepath.Join(tree.Dir, tree.Single), true
	}
	root, err := tree.OpenRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	md.Files = make([]FileDigest, len(tree.Files))
	names := make([]string, len(tree.Files)) // below the root; callers may rename Files
	for i, tf := range tree.Files {
		names[i] = tree.RootName(tf.Name)
		f, st, err := regular.OpenIn(root, names[i])
		if errors.Is(err, regular.ErrNotRegular) {
			return nil, formats.WithPath(formats.Errorf(formats.KindUnsupported, formats.NoOffset, "%w", err), tf.Name)
		} else if err != nil {
			return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), tf.Name)
		}
		inert := false
		if !md.Single {
			id, err := content.Identify(f, st.Size(), tf.Name, formats.Limits{})
			inert = content.Excusable(id, err) && err == nil
		}
		f.Close()
		md.Files[i] = FileDigest{Name: tf.Name, Size: st.Size(), Inert: inert}
	}
	// Every file opens through the model's root: a cache snapshot's links
	// resolve through its repository folder only.
	md.Open = func(i int) (io.ReaderAt, func(), error) {
		r, err := tree.OpenRoot()
		if err != nil {
			return nil, nil, err
		}
		defer r.Close()
		f, _, err := regular.OpenIn(r, names[i])
		if err != nil {
			return nil, nil, formats.IOError(formats.NoOffset, err)
		}
		return f, func() { f.Close() }, nil
	}
	return md, nil
}
