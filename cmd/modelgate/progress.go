package main

import (
	"context"

	"github.com/schollz/progressbar/v3"

	"github.com/modelgate/modelgate/internal/modeltree"
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

// progressFor returns ctx carrying a progress bar sized to the files of
// the model at path (internal/modeltree, as the command will read it) (hashing reports to it, see verify.ContextWithProgress), and the
// function that ends the bar.
func (c *cli) progressFor(ctx context.Context, path, revision, what string) (context.Context, func()) {
	var total int64
	if tree, err := modeltree.List(path, modeltree.Options{Revision: revision}); err == nil {
		for _, f := range tree.Files {
			total += f.Size
		}
	}
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
