package loader

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/content"
	"github.com/modelgate/modelgate/internal/hfcache"
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
	rel         string         // relative to the scanned directory (a file: its base name), for patterns
}

// ScanOptions configures Scan.
type ScanOptions struct {
	// FollowSymlinks checks the target of a symbolic link inside a scanned
	// directory, through os.Root, so that it cannot leave the directory.
	// Otherwise a link whose target stays inside is ignored (its target is
	// scanned where it lies) and one that leaves is refused.
	FollowSymlinks bool
	Limits         formats.Limits
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

// skippedDirs are not entered: version-control metadata is not model data.
var skippedDirs = map[string]bool{".git": true, ".hg": true, ".svn": true}

// Scan classifies and strictly parses every file under paths (files or
// directories), and returns one result per file, in a stable order. The
// ignore rule: a file whose content is no known format is ignored if it is
// text (UTF-8 with no NUL byte in its first 8 KiB), empty, or named
// tokenizer.model, spiece.model, sentencepiece.bpe.model or *.tiktoken;
// directories named .git, .hg and .svn are not entered. A file of any known
// format is checked whatever its name. The error is for cancellation only.
func Scan(ctx context.Context, paths []string, opts ScanOptions) ([]ScanResult, error) {
	var out []ScanResult
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
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
	// A Hugging Face cache snapshot is scanned through a root on its
	// repository folder, its links checked to resolve into blobs/ and
	// scanned there (they are the snapshot's files).
	rootDir, start, cache := dir, ".", false
	if repo, ok := hfcache.Root(dir); ok {
		if rel, err := filepath.Rel(repo, dir); err == nil {
			rootDir, start, cache = repo, filepath.ToSlash(rel), true
		}
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return []ScanResult{{Path: dir, Verdict: Refused, Kind: formats.KindIO, Reason: err.Error()}}, nil
	}
	defer root.Close()
	var out []ScanResult
	err = fs.WalkDir(root.FS(), start, func(rel string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		name := rel // relative to the scanned directory
		if start != "." {
			name = strings.TrimPrefix(strings.TrimPrefix(rel, start), "/")
		}
		display := filepath.Join(dir, filepath.FromSlash(name))
		add := func(r ScanResult) { r.rel = name; out = append(out, r) }
		if cache && d != nil && d.Type()&fs.ModeSymlink != 0 {
			add(scanCacheLink(root, rel, display, opts))
			return nil
		}
		switch {
		case err != nil:
			add(ScanResult{Path: display, Verdict: Refused, Kind: formats.KindIO, Reason: err.Error()})
			return nil
		case d.IsDir() && skippedDirs[d.Name()]:
			add(ScanResult{Path: display, Verdict: Ignored, Reason: "version-control directory, not entered"})
			return fs.SkipDir
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			add(scanLink(root, rel, display, opts))
		case !d.Type().IsRegular():
			add(ScanResult{Path: display, Verdict: Refused, Kind: formats.KindUnsupported, Reason: notRegular(display, d.Type()).Error()})
		default:
			res := scanOpen(func() (*os.File, error) { f, _, err := regular.OpenIn(root, rel); return f, err }, display, opts)
			add(savedModel(root, rel, res))
		}
		return nil
	})
	return out, err
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

// scanLink handles a symbolic link met inside a scanned directory.
// scanCacheLink checks a cache snapshot's link: it must resolve into the
// repository's blobs/, and what it names is scanned as the snapshot's file.
func scanCacheLink(root *os.Root, rel, display string, opts ScanOptions) ScanResult {
	target, err := root.Readlink(rel)
	if err != nil {
		return ScanResult{Path: display, Verdict: Refused, Kind: formats.KindIO, Reason: err.Error()}
	}
	if _, ok := hfcache.InBlobs(rel, target); !ok {
		return ScanResult{Path: display, Verdict: Refused, Kind: formats.KindPathTraversal,
			Reason: fmt.Sprintf("a cache snapshot's link must resolve into the repository's blobs/, and this one points to %q", target)}
	}
	return scanOpen(func() (*os.File, error) { f, _, err := regular.OpenIn(root, rel); return f, err }, display, opts)
}

func scanLink(root *os.Root, rel, display string, opts ScanOptions) ScanResult {
	if _, err := root.Stat(rel); err != nil {
		return ScanResult{Path: display, Verdict: Refused, Kind: formats.KindPathTraversal,
			Reason: "symbolic link leaves the scanned directory or is dangling: " + err.Error()}
	}
	if !opts.FollowSymlinks {
		return ScanResult{Path: display, Verdict: Ignored, Reason: "symbolic link inside the scanned directory; its target is scanned where it lies"}
	}
	return scanOpen(func() (*os.File, error) { f, _, err := regular.OpenIn(root, rel); return f, err }, display, opts)
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
