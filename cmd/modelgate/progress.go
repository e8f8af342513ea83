package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/internal/modeltree"
	"github.com/modelgate/modelgate/verify"
)

// progressThreshold: smaller jobs finish before a bar would help.
const progressThreshold = 256 << 20

// redrawEvery is how often the bar is redrawn at most.
const redrawEvery = 100 * time.Millisecond

// bar is a one-line progress bar on a terminal's stderr, or nothing (w
// nil). It is written here rather than taken from a library: the one used
// before (schollz/progressbar) links net/http, whose initialisation cost
// every run of modelgate about 5 ms of its start-up (BenchmarkStartup).
// add is safe for concurrent use: hashing workers report to it at once.
type bar struct {
	w     io.Writer
	what  string
	total int64
	start time.Time
	n     atomic.Int64

	mu    sync.Mutex // held while drawing
	last  time.Time  // when the bar was last drawn
	width int        // the drawn line's length, to clear it
}

// progress returns a bar for total bytes when stderr is a terminal, the
// output is not JSON and the job is large; otherwise a bar that does
// nothing.
func (c *cli) progress(total int64, what string) *bar {
	if c.json || total < progressThreshold || !isTerminal(c.stderr) {
		return &bar{}
	}
	return newBar(c.stderr, total, what)
}

func newBar(w io.Writer, total int64, what string) *bar {
	return &bar{w: w, what: what, total: total, start: time.Now()}
}

// progressFor returns ctx carrying a progress bar sized to the files of
// the model at path (internal/modeltree, as the command will read it;
// hashing reports to it, see verify.ContextWithProgress), and the function
// that ends the bar.
func (c *cli) progressFor(ctx context.Context, path, revision, what string) (context.Context, func()) {
	var total int64
	if tree, err := modeltree.List(path, modeltree.Options{Revision: revision}); err == nil {
		for _, f := range tree.Files {
			total += f.Size
		}
	}
	b := c.progress(total, what)
	if b.w == nil {
		return ctx, func() {}
	}
	return verify.ContextWithProgress(ctx, b.add), b.done
}

// add counts n more bytes done, and redraws the bar when it is due and
// no other worker is drawing it; the last bytes always redraw it.
func (b *bar) add(n int64) {
	if b.w == nil {
		return
	}
	done := b.n.Add(n)
	if done >= b.total {
		b.mu.Lock()
	} else if !b.mu.TryLock() {
		return
	}
	defer b.mu.Unlock()
	now := time.Now()
	if now.Sub(b.last) < redrawEvery && done < b.total {
		return
	}
	b.last = now
	line := fmt.Sprintf("%s %3d%% %s / %s", b.what, min(100, done*100/max(b.total, 1)), bytesOf(done), bytesOf(b.total))
	if s := now.Sub(b.start).Seconds(); s > 0 {
		line += fmt.Sprintf(" (%s/s)", bytesOf(int64(float64(done)/s)))
	}
	pad := max(0, b.width-len(line))
	b.width = len(line)
	fmt.Fprintf(b.w, "\r%s%s", line, strings.Repeat(" ", pad))
}

// done clears the bar's line, if one was drawn.
func (b *bar) done() {
	if b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.width > 0 {
		fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", b.width))
		b.width = 0
	}
}

// bytesOf prints n bytes in binary units, as the bar shows them.
func bytesOf(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}
