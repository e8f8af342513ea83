// Package testregistry starts, for tests, a real CNCF Distribution
// registry (v3.1.2, the registry binary on PATH or $MODELGATE_REGISTRY) on
// 127.0.0.1 with one htpasswd user, and finds the real oras CLI. Without
// them a test is skipped, and under CI=true it fails: .ci/run installs both.
package testregistry

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Install says how to get the binaries.
const (
	InstallRegistry = "go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2"
	InstallOras     = "go install oras.land/oras/cmd/oras@v1.3.6"
)

// Registry is a running registry and its one user.
type Registry struct {
	Host       string // 127.0.0.1:PORT
	User, Pass string
}

// need finds a binary: $env, else name on PATH; else skips or, under CI,
// fails.
func need(t testing.TB, env, name, install string) string {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		bin, _ = exec.LookPath(name)
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: %s", name, install)
		}
		t.Skipf("needs %s: %s (or set %s)", name, install, env)
	}
	return bin
}

// Oras returns the oras CLI's path.
func Oras(t testing.TB) string {
	return need(t, "MODELGATE_ORAS", "oras", InstallOras)
}

// Start starts a registry with htpasswd authentication, stopped when the
// test ends.
func Start(t testing.TB) *Registry {
	t.Helper()
	bin := need(t, "MODELGATE_REGISTRY", "registry", InstallRegistry)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	r := &Registry{Host: host, User: "modelgate", Pass: "s3cret"}
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\nauth:\n  htpasswd:\n    realm: modelgate\n    path: %s\n",
		filepath.Join(dir, "data"), host, htpasswd)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(htpasswd, []byte(r.User+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// DockerConfig points DOCKER_CONFIG at a config.json holding the user's
// credentials for host, as docker login writes them.
func (r *Registry) DockerConfig(t testing.TB, host string) {
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(r.User + ":" + r.Pass))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

// Repository returns repo in the registry, with the user's credentials,
// over plain HTTP.
func (r *Registry) Repository(t testing.TB, repo string) *remote.Repository {
	dst, err := remote.NewRepository(r.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	dst.PlainHTTP = true
	dst.Client = &auth.Client{Client: retry.DefaultClient, Cache: auth.NewCache(),
		Credential: auth.StaticCredential(r.Host, auth.Credential{Username: r.User, Password: r.Pass})}
	return dst
}
