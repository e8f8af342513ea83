package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestBarCountsEveryByteAndClearsItsLine drives the bar from four
// workers at once, as hashing does: the last drawing shows 100% of the
// total, and done leaves the line blank.
func TestBarCountsEveryByteAndClearsItsLine(t *testing.T) {
	var out lockedBuffer
	const total = 64 << 20
	b := newBar(&out, total, "hashing")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range total / 4 / (64 << 10) {
				b.add(64 << 10)
			}
		}()
	}
	wg.Wait()
	b.done()
	s := out.b.String()
	draws := strings.Split(s, "\r")
	require.GreaterOrEqual(t, len(draws), 3, "%q", s)
	assert.Equal(t, "", draws[len(draws)-1], "done must end on a carriage return")
	assert.Equal(t, "", strings.TrimSpace(draws[len(draws)-2]), "done must blank the line")
	last := draws[len(draws)-3]
	assert.True(t, strings.HasPrefix(last, "hashing 100% 64.0 MiB / 64.0 MiB"), "%q", last)
	assert.Equal(t, len(strings.TrimRight(last, " ")), len(draws[len(draws)-2]), "the blank must cover the line")
}

func TestNoBarDrawsNothing(t *testing.T) {
	var out bytes.Buffer
	c := &cli{stdout: &out, stderr: &out, json: true}
	b := c.progress(1<<40, "hashing")
	b.add(1 << 30)
	b.done()
	c = &cli{stdout: &out, stderr: &out}
	b = c.progress(1<<40, "hashing") // a buffer is no terminal
	b.add(1 << 30)
	b.done()
	assert.Empty(t, out.String())
}

func TestBytesOf(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		256 << 20: "256.0 MiB", 3 << 30: "3.0 GiB", 5 << 40: "5.0 TiB", 5 << 50: "5120.0 TiB",
	} {
		assert.Equal(t, want, bytesOf(n), "%d", n)
	}
}
