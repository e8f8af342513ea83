package consumers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/consumers"
)

// TestRecordedDisagreements keeps each disagreement differential fuzzing
// found honest: modelgate refuses the file with the kind
// testdata/disagreements/LIST gives, or the reader recorded there still
// reads it otherwise (an open finding, logged).
func TestRecordedDisagreements(t *testing.T) {
	b, err := os.ReadFile("testdata/disagreements/LIST")
	require.NoError(t, err)
	readers := map[string]*consumers.Reader{}
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		require.Len(t, fields, 3, "LIST: %q", line)
		p := filepath.Join("testdata", "disagreements", fields[0])
		r, ok := readers[fields[1]]
		if !ok { // started by the parent test: a subtest's cleanup would stop it
			r = map[string]func(testing.TB) *consumers.Reader{"ggml": consumers.GGML, "hf-gguf": consumers.HFGGUF, "numpy": consumers.NumPy}[fields[1]](t)
			readers[fields[1]] = r
		}
		t.Run(fields[0], func(t *testing.T) {
			verdict, mine := modelgateReading(p)
			if verdict != "accept" {
				assert.Equal(t, fields[2], verdict, "refused with another kind than LIST says: %s", mine.Error)
				return
			}
			if r == nil {
				return
			}
			mine.Normalise(p, true)
			got := r.Read(p)
			got.Normalise(p, true)
			d := consumers.Diff(mine, got)
			assert.NotEmpty(t, d, "%s now reads %s as modelgate does: drop its line from LIST", r.Name, fields[0])
			t.Logf("open: modelgate accepts it, and %s reads it otherwise: %s", r.Name, d)
		})
	}
}
