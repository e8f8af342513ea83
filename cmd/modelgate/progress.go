package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/schollz/progressbar/v3"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
)

// progressThreshold: smaller jobs finish before a bar would help.
const progressThreshold = 256 << 20

// bar is a progress bar on stderr, or nothing.
type bar struct{ pb *progressbar.ProgressBar }

// progress returns a bar for total bytes when stderr is a terminal, the
// output is not JSON and the job is large; otherwise a bar that does
// nothing.
func (c *cli) progress(total int64, what string) *bar {
	if c.json || total < progressThreshold || !isTerminal(c.stderr) {
		return &bar{}
	}
	return &bar{progressbar.NewOptions64(total, progressbar.OptionSetWriter(c.stderr), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription(what), progressbar.OptionThrottle(100_000_000), progressbar.OptionClearOnFinish())}
}

// progressFor returns ctx carrying a progress bar sized to the files at
// path (hashing reports to it, see verify.ContextWithProgress), and the
// function that ends the bar.
func (c *cli) progressFor(ctx context.Context, path, what string) (context.Context, func()) {
	var total int64
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	b := c.progress(total, what)
	if b.pb == nil {
		return ctx, func() {}
	}
	return verify.ContextWithProgress(ctx, b.add), b.done
}

func (b *bar) add(n int64) {
	if b.pb != nil {
		_ = b.pb.Add64(n)
	}
}

func (b *bar) done() {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
}

// listTree lists the regular files below root, sorted, refusing symbolic
// links (a tree's digests must not depend on what lies outside it).
func listTree(root *os.Root) ([]sizedPath, error) {
	var out []sizedPath
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return formats.IOError(formats.NoOffset, err)
		case d.Type()&fs.ModeSymlink != 0:
			return formats.WithPath(formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "symbolic link in a directory to hash"), p)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return formats.IOError(formats.NoOffset, err)
			}
			out = append(out, sizedPath{p, info.Size()})
		}
		return nil
	})
	slices.SortFunc(out, func(a, b sizedPath) int {
		if a.path < b.path {
			return -1
		}
		if a.path > b.path {
			return 1
		}
		return 0
	})
	return out, err
}
