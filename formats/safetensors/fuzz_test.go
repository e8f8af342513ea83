package safetensors_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
)

// FuzzReader checks, for any input: no panic; a refusal is malformed or
// limit-exceeded; an accepted file on the shared dtype set is accepted by
// github.com/nlpodyssey/safetensors too (modelgate accepts nothing the
// oracle rejects); and parse -> write -> parse is stable.
func FuzzReader(f *testing.F) {
	n := 0
	for _, tc := range refusals {
		f.Add(tc.file)
		n++
	}
	for _, tc := range acceptances {
		f.Add(tc.file)
		n++
	}
	files, _ := loadSharedVectors() // absent in a user's clone
	for _, b := range files {
		f.Add(b)
		n++
	}
	if n == 0 {
		f.Fatal("empty seed corpus")
	}
	lim := formats.Limits{MaxTensors: 1000, MaxTotalBytes: 1 << 20, MaxHeaderBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := safetensors.NewReader(bytes.NewReader(b), int64(len(b)), lim)
		if err != nil {
			k := formats.KindOf(err)
			require.True(t, k == formats.KindMalformed || k == formats.KindLimitExceeded, "kind %q: %v", k, err)
			return
		}
		if sharedDTypes(st) {
			require.True(t, oracleAccepts(b), "modelgate accepts a file the oracle rejects")
		}
		checkRoundTrip(t, b, st)
	})
}
