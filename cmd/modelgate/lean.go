//go:build modelgate_lean

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/ociref"
	"github.com/modelgate/modelgate/loader"
)

// The lean build (go build -tags modelgate_lean) runs version, hash and
// inspect itself and links no Sigstore package nor OCI client, so that it starts
// as a small Go program does (BenchmarkStartup); every other invocation,
// help and mistakes included, it hands to the full program, modelgate-full,
// installed beside it. What either build prints for an invocation is the
// same (TestLeanAgreesWithFull).

// fullName is the full program's file name, looked for in the directory
// of the lean program's own executable (symbolic links resolved).
const fullName = "modelgate-full"

func start(args []string) int {
	if !inProcess(args) {
		full, err := fullPath()
		if err == nil && os.Getenv(handedOver) != "" {
			// Only a lean program sets it, and the full one clears it: a
			// lean build installed as modelgate-full would hand over to
			// itself forever.
			err = fmt.Errorf("%s is a lean build of modelgate too: install the whole program as %s", full, fullName)
		}
		if err == nil {
			err = execFull(full, args)
		}
		if err != nil {
			c := &cli{stdout: os.Stdout, stderr: os.Stderr, json: wantsJSON(args)}
			return c.finish(usageError{err})
		}
	}
	return run(args, os.Stdout, os.Stderr)
}

func (c *cli) commands() []*cobra.Command {
	return []*cobra.Command{c.newInspect(), c.newHash(), c.newVersion()}
}

// inProcess reports whether the lean program runs args itself: version
// and hash, and inspect without a --policy (a policy may name signers) or
// an OCI reference (loader/oci is not linked). The test is on the words as given, before the flags are
// parsed, and errs toward the full program, which answers every
// invocation.
func inProcess(args []string) bool {
	i := 0
	for i < len(args) && isJSONFlag(args[i]) {
		i++
	}
	if i == len(args) {
		return false
	}
	switch args[i] {
	case "version", "hash":
		return true
	case "inspect":
		for _, a := range args[i+1:] {
			if a == "--policy" || strings.HasPrefix(a, "--policy=") || ociref.IsReference(a) {
				return false
			}
		}
		return true
	}
	return false
}

func isJSONFlag(a string) bool {
	return a == "--json" || strings.HasPrefix(a, "--json=")
}

// wantsJSON reports whether a refusal to start must be printed as JSON.
func wantsJSON(args []string) bool {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" || a == "--json=true" || a == "--json=1" {
			return true
		}
	}
	return false
}

// fullPath finds modelgate-full beside the running executable.
func fullPath() (string, error) {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return "", fmt.Errorf("this lean modelgate runs version, hash and inspect; finding %s for the rest: %w", fullName, err)
	}
	name := fullName
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	p := filepath.Join(filepath.Dir(exe), name)
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return "", errors.New("this lean modelgate runs version, hash and inspect itself, and " + name +
			" the rest, which is not installed beside it (" + p + "): install both from the release")
	}
	return p, nil
}

// verifier returns no verifier: the lean build registers no signer flags
// (the commands that take them run in the full program).
func (s *sigFlags) verifier() (sigVerifier, error) { return nil, nil }

// signatureHint is empty: the lean build verifies no signature.
func signatureHint(error) string { return "" }

// openOCI refuses: the lean build links no OCI client, and inProcess hands
// every OCI reference to the full program; this answers only a layout
// directory that appeared after inProcess looked.
func (f *loadFlags) openOCI(_ context.Context, ref string) (*loader.Model, error) {
	return nil, usageError{fmt.Errorf("%s: an OCI artifact, which the lean modelgate leaves to %s: run it again", ref, fullName)}
}
