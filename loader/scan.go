package loader

import (
	"cmp"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/content"
	"github.com/modelgate/modelgate/internal/hfcache"
	"github.com/modelgate/modelgate/internal/modeltree"
	"github.com/modelgate/modelgate/internal/regular"
	"github.com/modelgate/modelgate/internal/safetext"
)

// Verdicts of a scan.
const (
	Accepted = "accepted"
	Refused  = "refused"
	Ignored  = "ignored"
)

// ScanResult is the verdict on one file.
type ScanResult struct {
	Path string `json:"path"`
	// PathEscaped is set when Path is not UTF-8, which JSON cannot carry
	// (encoding/json writes U+FFFD): safetext.Escape of its bytes, so that
	// distinct names stay distinct.
	PathEscaped string         `json:"path_escaped,omitempty"`
	Format      formats.Format `json:"format,omitempty"`
	Verdict     string         `json:"verdict"`
	Kind        formats.Kind   `json:"kind,omitempty"`
	Reason      string         `json:"reason,omitempty"`
	Size        int64          `json:"size"`
	Tensors     int            `json:"tensors,omitempty"`
	// Tag and Digest are set for an OCI artifact (modelgate scan
	// oci://…): the tag scanned, and the manifest digest it resolved to.
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
	rel    string // relative to the scanned directory (a file: its base name), for patterns
}

// ScanOptions configures Scan.
type ScanOptions struct {
	// FollowSymlinks checks the target of a symbolic link inside a scanned
	// directory, through os.Root, so that it cannot leave the directory.
	// Otherwise a link is refused (kind path-traversal), as Open refuses
	// it: which files make up a model is internal/modeltree's one rule.
	FollowSymlinks bool
	Limits         formats.Limits
	// Revision picks the snapshot of a Hugging Face cache repository
	// folder (loader.WithRevision).
	Revision string
	// Exclude lists path patterns (path.Match on slash-separated paths
	// relative to the scanned directory; a matching directory covers what
	// lies below it) whose files are ignored when content.Excusable says a
	// name may excuse them; Include, when set, treats every file it does
	// not match the same way. Names never excuse weights, code, pickles or
	// other model formats: those are checked wherever they lie.
	Exclude, Include []string
	// ChatTemplates are the digests of approved chat templates
	// (loader.WithChatTemplates).
	ChatTemplates []string
}

// excuse ignores a refused file the patterns leave out, when its refusal
// is one a name may excuse (content.ExcusableRefusal).
func (o *ScanOptions) excuse(r *ScanResult) {
	if r.Verdict != Refused || !content.ExcusableRefusal(r.Kind, r.Format) {
		return
	}
	if why, ok := o.excluded(r.rel); ok {
		r.Verdict, r.Kind, r.Reason = Ignored, "", why+" ("+r.Reason+")"
	}
}

// excluded reports whether the patterns leave name out, and why.
func (o *ScanOptions) excluded(name string) (string, bool) {
	for _, p := range o.Exclude {
		if matchPath(p, name) {
			return "excluded by " + p, true
		}
	}
	if len(o.Include) == 0 {
		return "", false
	}
	for _, p := range o.Include {
		if matchPath(p, name) {
			return "", false
		}
	}
	return "not included by the scan's include patterns", true
}

// Scan classifies and strictly parses every file under paths (files or
// directories), and returns one result per file, in a stable order. The
// ignore rule: a file whose content is no known format is ignored if it is
// text (UTF-8 with no NUL byte in its first 8 KiB), empty, or named
// tokenizer.model, spiece.model, sentencepiece.bpe.model or *.tiktoken.
// A directory is read as Open reads it (internal/modeltree): .git, .hg and
// .svn at its top are not entered (reported ignored), links, special files
// and names that are not UTF-8 are refused. A file of any known
// format is checked whatever its name. The error is for cancellation only.
func Scan(ctx context.Context, paths []string, opts ScanOptions) ([]ScanResult, error) {
	var out []ScanResult
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case strings.HasPrefix(p, hfcache.Scheme):
			res, err := scanDir(ctx, p, opts)
			out = append(out, res...)
			if err != nil {
				return out, err
			}
		case err != nil:
			out = append(out, ScanResult{Path: p, Verdict: Refused, Kind: formats.KindIO, Reason: err.Error()})
		case st.IsDir():
			res, err := scanDir(ctx, p, opts)
			out = append(out, res...)
			if err != nil {
				return out, err
			}
		default:
			res := scanOpen(func() (*os.File, error) { f, _, err := regular.Open(p); return f, err }, p, opts)
			res.rel = filepath.Base(p)
			out = append(out, res)
		}
	}
	for i := range out {
		opts.excuse(&out[i])
		if !safetext.Valid(out[i].Path) {
			out[i].PathEscaped = safetext.Escape(out[i].Path)
		}
	}
	return out, ctx.Err()
}

func scanDir(ctx context.Context, dir string, opts ScanOptions) ([]ScanResult, error) {
	refused := func(p string, err error) ScanResult {
		return ScanResult{Path: p, Verdict: Refused, Kind: formats.KindOf(err), Reason: err.Error()}
	}
	tree, err := modeltree.List(dir, modeltree.Options{Revision: opts.Revision})
	if err != nil {
		return []ScanResult{refused(dir, err)}, nil
	}
	root, err := tree.OpenRoot()
	if err != nil {
		return []ScanResult{refused(dir, err)}, nil
	}
	defer root.Close()
	var out []ScanResult
	for _, v := range tree.VCS {
		out = append(out, ScanResult{Path: filepath.Join(tree.Dir, v), Verdict: Ignored, Reason: "version-control directory, not entered", rel: v})
	}
	for _, f := range tree.Files {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		display, rel := filepath.Join(tree.Dir, filepath.FromSlash(f.Name)), tree.RootName(f.Name)
		open := func() (*os.File, error) { f, _, err := regular.OpenIn(root, rel); return f, err }
		var res ScanResult
		switch {
		case f.Err != nil && opts.FollowSymlinks && !tree.Cache && isLink(root, rel):
			res = scanOpen(open, display, opts)
		case f.Err != nil:
			res = refused(display, f.Err)
		default:
			res = savedModel(root, rel, scanOpen(open, display, opts))
		}
		res.rel = f.Name
		out = append(out, res)
	}
	return out, nil
}

func isLink(root *os.Root, name string) bool {
	st, err := root.Lstat(name)
	return err == nil && st.Mode()&fs.ModeSymlink != 0
}

// savedModel names a TensorFlow SavedModel by its layout: a protobuf
// saved_model.pb beside a variables/ directory. It is refused as
// unsupported either way; this only says what it is.
func savedModel(root *os.Root, rel string, res ScanResult) ScanResult {
	if path.Base(rel) != "saved_model.pb" || res.Verdict != Refused || res.Kind == formats.KindPickle {
		return res
	}
	if st, err := root.Stat(path.Join(path.Dir(rel), "variables")); err != nil || !st.IsDir() {
		return res
	}
	res.Format, res.Kind = formats.FormatSavedModel, formats.KindUnsupported
	res.Reason = "a TensorFlow SavedModel (saved_model.pb beside variables/); modelgate accepts only safetensors, npy, npz and GGUF"
	return res
}

func scanOpen(open func() (*os.File, error), display string, opts ScanOptions) ScanResult {
	f, err := open()
	if errors.Is(err, regular.ErrNotRegular) {
		return ScanResult{Path: display, Verdict: Refused, Kind: formats.KindUnsupported, Reason: err.Error()}
	} else if err != nil {
		return ScanResult{Path: display, Verdict: Refused, Kind: formats.KindOf(openErr(err, display)), Reason: err.Error()}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ScanResult{Path: display, Verdict: Refused, Kind: formats.KindIO, Reason: err.Error()}
	}
	if !st.Mode().IsRegular() {
		return ScanResult{Path: display, Verdict: Refused, Kind: formats.KindUnsupported, Reason: notRegular(display, st.Mode()).Error()}
	}
	return checkFile(f, st.Size(), display, opts.Limits, opts.ChatTemplates)
}

// CheckFile identifies one file (formats/content) and parses it if it is
// weights: accepted, ignored when inert, refused otherwise (a pickle,
// code, unknown binary content, or weights that do not parse).
func CheckFile(r io.ReaderAt, size int64, name string, lim formats.Limits) ScanResult {
	return checkFile(r, size, name, lim, nil)
}

// checkFile is CheckFile with the digests of approved chat templates.
func checkFile(r io.ReaderAt, size int64, name string, lim formats.Limits, templates []string) ScanResult {
	res := ScanResult{Path: name, Size: size}
	id, err := content.Identify(r, size, name, lim)
	res.Format = cmp.Or(id.Format, formats.FormatUnknown)
	switch {
	case err != nil:
	case id.Code(templates) != "":
		err = formats.Errorf(formats.KindCode, formats.NoOffset, "code that runs on load: %s", id.Code(templates))
	case id.Role == content.Inert:
		res.Verdict, res.Reason = Ignored, id.Why
		return res
	case id.Role == content.Index:
		res.Verdict, res.Reason = Ignored, "sharded-checkpoint index; checked against its shards when the model is opened"
		return res
	default:
		var f *File
		if f, err = parseAs(&held{r: r, size: size}, id, lim); err == nil {
			res.Format, res.Verdict, res.Tensors = f.Format, Accepted, len(f.Tensors)
			return res
		}
	}
	res.Kind, res.Reason, res.Verdict = formats.KindOf(err), err.Error(), Refused
	return res
}
