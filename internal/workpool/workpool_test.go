package workpool

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunCallsEveryJobAndJoinsErrors(t *testing.T) {
	var calls atomic.Int64
	errOdd := errors.New("odd")
	err := Run(context.Background(), 101, func(i int) error {
		calls.Add(1)
		if i%2 == 1 {
			return errOdd
		}
		return nil
	})
	assert.Equal(t, int64(101), calls.Load())
	assert.ErrorIs(t, err, errOdd)
	assert.NoError(t, Run(context.Background(), 0, func(int) error { return errOdd }))
}

func TestRunStopsOnceTheContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	err := Run(ctx, 1000, func(int) error {
		if calls.Add(1) == 3 {
			cancel()
		}
		return nil
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, calls.Load(), int64(1000))
}
