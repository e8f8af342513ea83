// Package pyoracle runs Debian's /usr/bin/python3 as a differential oracle
// in tests. Outside CI a missing interpreter or module skips the test;
// under CI (which installs python3-numpy and python3-torch) it fails it.
package pyoracle

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Python is the interpreter the oracles use: Debian's, which has the
// packaged numpy and torch.
const Python = "/usr/bin/python3"

// Require skips (fails under CI) the test unless Python can import every
// module named.
func Require(t testing.TB, modules ...string) {
	t.Helper()
	args := []string{"-c", "import sys\nfor m in sys.argv[1:]: __import__(m)"}
	out, err := exec.Command(Python, append(args, modules...)...).CombinedOutput()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s cannot import %s under CI: %v\n%s", Python, strings.Join(modules, ", "), err, out)
	}
	t.Skipf("%s cannot import %s: %v", Python, strings.Join(modules, ", "), err)
}

// Lines runs script with the given lines on standard input and decodes
// each line of its output as JSON into a new T.
func Lines[T any](t testing.TB, script string, input []string) []T {
	t.Helper()
	cmd := exec.Command(Python, script)
	cmd.Stdin = strings.NewReader(strings.Join(input, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", Python, script, err, stderr.String())
	}
	var res []T
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("oracle output %q: %v", sc.Text(), err)
		}
		res = append(res, v)
	}
	return res
}
