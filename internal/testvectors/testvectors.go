// Package testvectors finds the public upstream vectors the tests read:
// $MODELGATE_VECTORS when set, else ../shared/vectors beside the
// repository. scripts/vectors.sh restores them from their upstream
// repositories at the commits scripts/vectors.lock pins, and checks each
// file's digest.
//
// Outside CI a missing set skips the test, naming the set and how to get
// it; under CI (the CI variable set, as .ci/run runs) it fails it, so that
// a vector set that went missing cannot turn a suite green by skipping.
package testvectors

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root returns the directory holding the vector sets, and whether it exists.
func Root() (string, bool) {
	d := os.Getenv("MODELGATE_VECTORS")
	if d == "" {
		_, file, _, _ := runtime.Caller(0)
		d = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "vectors")
	}
	d, _ = filepath.Abs(d)
	fi, err := os.Stat(d)
	return d, err == nil && fi.IsDir()
}

// Dir returns the directory of vector set set (numpy, pickle, safetensors,
// model-transparency, sigstore), or skips (fails under CI) the test when it
// is absent.
func Dir(t testing.TB, set string) string {
	t.Helper()
	root, _ := Root()
	d := filepath.Join(root, set)
	if _, err := os.Stat(d); err != nil {
		msg := "vector set " + set + " is missing (" + err.Error() + "): run scripts/vectors.sh DIR and set MODELGATE_VECTORS=DIR"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return d
}
