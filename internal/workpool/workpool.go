// Package workpool runs independent jobs on one worker per core: hashing
// the files of a model, or the shards of a manifest.
package workpool

import (
	"context"
	"errors"
	"runtime"
	"sync"
)

// Run calls f(0..n-1) on up to GOMAXPROCS workers and returns the errors
// joined, in index order. Once ctx is done no further job starts, and its
// error is returned.
func Run(ctx context.Context, n int, f func(i int) error) error {
	errs := make([]error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if ctx.Err() == nil {
					errs[i] = f(i)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
