// Package testvectors finds the public upstream vectors in ../shared/vectors
// for tests. Outside CI a missing set skips the test; under CI (the CI
// variable set, as .ci/run runs) it fails it, so that a vector set that
// went missing cannot turn a suite green by skipping.
package testvectors

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the directory shared/vectors/<set> beside the repository,
// or skips (fails under CI) the test when it is absent.
func Dir(t testing.TB, set string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	d := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "vectors", set)
	if _, err := os.Stat(d); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared vector set %s is missing under CI: %v", set, err)
		}
		t.Skipf("shared vector set %s not present: %v", set, err)
	}
	return d
}
