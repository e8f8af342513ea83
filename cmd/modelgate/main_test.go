//go:build !modelgate_lean

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelgate/modelgate/internal/ggufwrite"
	"github.com/modelgate/modelgate/internal/testvectors"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"modelgate": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI as a user does, from testdata/script/*.txtar.
// Scripts see $TESTDATA (the repository's testdata) and $SHARED (the
// upstream vectors, when the [shared] condition holds), and can build
// safetensors files with mkst.
func TestScripts(t *testing.T) {
	testdata, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	shared, sharedOK := testvectors.Root()
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("TESTDATA", testdata)
			env.Setenv("SHARED", shared)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "shared" {
				return sharedOK, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mkst":     mkst,
			"code":     code,
			"genkey":   genkey,
			"genmldsa": genmldsa,
			"mkgguf":   mkgguf,
			"mkoci":    mkoci,
		},
	})
}

// mkst FILE HEADER [DATALEN] writes a safetensors file: the 8-byte length of
// HEADER, HEADER, and DATALEN zero bytes.
func mkst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: mkst FILE HEADER [DATALEN]")
	}
	n := 0
	if len(args) == 3 {
		var err error
		n, err = strconv.Atoi(args[2])
		ts.Check(err)
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(args[1])))
	b = append(b, args[1]...)
	b = append(b, make([]byte, n)...)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// code N PROG [ARGS...] runs PROG and fails unless it exits with status N;
// its output is kept for stdout and stderr checks.
func code(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: code N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// genkey NAME writes a fresh P-256 key pair to NAME.key (PKCS#8) and
// NAME.pub.
func genkey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: genkey NAME")
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644))
}

// genmldsa NAME writes an ML-DSA-65 key pair as model_signing keeps one:
// NAME.priv and NAME.raw, raw FIPS 204 encodings.
func genmldsa(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: genmldsa NAME")
	}
	pk, sk, err := mldsa65.GenerateKey(rand.Reader)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".priv"), sk.Bytes(), 0o600))
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".raw"), pk.Bytes(), 0o644))
}

// mkgguf FILE writes a GGUF file with a tensor of every ggml type and a
// metadata pair of every value type (internal/ggufwrite.Every).
func mkgguf(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkgguf FILE")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), ggufwrite.Every().Build(), 0o644))
}
