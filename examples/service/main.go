// Command service is an example Go service that accepts model uploads,
// verifies them with modelgate before anything loads them, and hands the
// canonical safetensors file to a directory an MLX worker reads.
//
//	go run ./examples/service -listen 127.0.0.1:8080 -policy policy.yaml -outbox /srv/mlx-inbox
//
//	POST /v1/models         multipart form: field "model", the file to check (its
//	                        file name is the name a signature lists), and
//	                        optionally "bundle", its signature (a Sigstore or
//	                        model_signing bundle)
//	POST /v1/models/by-path JSON {"path": "name"}: a file or directory below -volume
//	GET  /healthz           200 {"ok":true} while the service runs
//
// Every model is checked against the -policy given at start (a client never
// chooses it); with require: [signature] an upload must carry its bundle.
// A refusal is HTTP 422 with {"ok":false,"error":{"kind":...,"message":...}};
// a malformed request is 400 (kind usage); an upload over -max-bytes, or a
// bundle over 8 MiB, is 413. Messages name files as the client knows them,
// never by their place in the spool or on the volume. An accepted model is
// answered with its tensors, digests and signer, and written as
// <sha256>.safetensors to the outbox, where an MLX worker runs mx.load on it,
// or, with -worker, handed to a worker process as a sealed file (handoff.go,
// examples/worker).
//
// It imports only modelgate's public packages (loader, verify, formats, and
// verify/signature for a policy's signatures section), so it can be copied
// out of the module as the start of a service. A service that checks
// digests only can drop the verify/signature import and link no Sigstore
// code; a policy naming signatures is then refused at start.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
	_ "github.com/modelgate/modelgate/verify/signature" // builds a policy's signature verifier (verify.RegisterSignatures)
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on (port 0: any free port, printed at start)")
	policyPath := flag.String("policy", "", "modelgate policy file (formats, limits, digests, signatures)")
	volume := flag.String("volume", "", "directory whose models may be checked by path")
	outbox := flag.String("outbox", "", "directory the MLX worker reads canonical safetensors from")
	outboxMode := flag.Uint("outbox-mode", 0o644, "permissions of files written to the outbox (before the umask), for a worker running as another user")
	spool := flag.String("spool", filepath.Join(os.TempDir(), "modelgate-spool"), "directory of partial uploads; emptied at start")
	worker := flag.String("worker", "", "Unix socket of a worker (examples/worker) to hand accepted models to, sealed")
	maxBytes := flag.Int64("max-bytes", 1<<30, "largest upload accepted")
	maxConcurrent := flag.Int("max-concurrent", 4, "requests served at once; more are answered 503 with Retry-After")
	maxChecks := flag.Int("max-checks", 1, "models verified and parsed at once (each hashes on every core); other requests wait")
	uploadTimeout := flag.Duration("upload-timeout", 5*time.Minute, "longest an upload may take to arrive (slow clients are cut off)")
	memoryLimit := flag.Int64("memory-limit", 192<<20, "soft limit of the Go heap in bytes (runtime/debug.SetMemoryLimit): the collector runs harder near it, so garbage of one check is gone before the next")
	flag.Parse()
	debug.SetMemoryLimit(*memoryLimit)
	cfg := Config{
		Volume: *volume, Outbox: *outbox, Worker: *worker, OutboxMode: os.FileMode(*outboxMode), Spool: *spool,
		MaxBytes: *maxBytes, MaxConcurrent: *maxConcurrent, MaxChecks: *maxChecks, UploadTimeout: *uploadTimeout, Logger: slog.Default(),
	}
	if *policyPath != "" {
		p, err := verify.LoadPolicy(*policyPath)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := p.Checks(); err != nil { // build the signature verifier once, at start
			log.Fatal(err)
		}
		cfg.Policy = p
	}
	if err := cfg.Prepare(); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "listening on %s\n", ln.Addr())
	srv := NewServer(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		// Finish the checks under way, then leave: their deferred
		// clean-up removes their partial uploads.
		shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	_ = os.RemoveAll(cfg.Spool)
}

// Config configures the service.
type Config struct {
	Policy        *verify.Policy // every check, signatures included (verify.Policy.Checks)
	Volume        string         // models checkable by path live below it ("" disables)
	Outbox        string         // canonical safetensors go here ("" disables)
	Worker        string         // Unix socket of the worker accepted models are handed to, sealed ("" disables)
	OutboxMode    os.FileMode    // permissions of outbox files (0: 0644)
	Spool         string         // partial uploads live here; Prepare empties it
	MaxBytes      int64
	MaxConcurrent int // requests at once (0: 4); more are answered 503
	// MaxChecks bounds the models verified and parsed at once (0: 1), and
	// so memory: one check of a hostile file costs up to about 160 MiB
	// (loader TestCostBudget), and each already hashes on every core.
	MaxChecks     int
	UploadTimeout time.Duration // for a whole request to arrive (0: 5 min)
	Logger        *slog.Logger

	slots  chan struct{}
	checks chan struct{}
	umask  os.FileMode
}

// Prepare empties the spool of what a crash left (a SIGKILL during an
// upload leaves its partial file) and the outbox of partial writes, and
// sets the defaults.
func (cfg *Config) Prepare() error {
	if cfg.Spool == "" {
		return errors.New("a spool directory is needed")
	}
	if err := os.RemoveAll(cfg.Spool); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Spool, 0o700); err != nil {
		return err
	}
	if cfg.Outbox != "" {
		partial, _ := filepath.Glob(filepath.Join(cfg.Outbox, ".incoming-*"))
		for _, p := range partial {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	if cfg.OutboxMode == 0 {
		cfg.OutboxMode = 0o644
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 4
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = 5 * time.Minute
	}
	cfg.slots = make(chan struct{}, cfg.MaxConcurrent)
	cfg.checks = make(chan struct{}, max(cfg.MaxChecks, 1))
	cfg.umask = processUmask() // read once, before serving: reading it means setting it
	return nil
}

// NewServer returns the service's HTTP server, with every timeout set: a
// client that sends a byte every few seconds is cut off at UploadTimeout
// instead of holding a goroutine and a spool file forever.
func NewServer(cfg Config) *http.Server {
	return &http.Server{
		Handler:           NewHandler(cfg),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.UploadTimeout,
		WriteTimeout:      cfg.UploadTimeout + time.Minute, // the check runs after the body is read
		IdleTimeout:       time.Minute,
	}
}

// Response is the JSON answer for an accepted model.
type Response struct {
	OK       bool                 `json:"ok"`
	Tensors  []loader.ModelTensor `json:"tensors"`
	Verified loader.Verified      `json:"verified"`
	Outbox   string               `json:"outbox,omitempty"` // the canonical file written
	Worker   *WorkerAnswer        `json:"worker,omitempty"` // what the worker loaded
}

// NewHandler returns the service's HTTP handler. cfg must have been
// prepared (Config.Prepare).
func NewHandler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/models", cfg.limited(cfg.upload))
	mux.HandleFunc("POST /v1/models/by-path", cfg.limited(cfg.byPath))
	mux.HandleFunc("GET /healthz", healthz)
	return mux
}

// limited runs h only while fewer than MaxConcurrent checks run; past
// that it answers 503 with Retry-After at once, so that a burst of hostile
// uploads cannot pile up memory.
func (cfg Config) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case cfg.slots <- struct{}{}:
			defer func() { <-cfg.slots }()
			h(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "busy", fmt.Errorf("%d checks are running; retry", cap(cfg.slots)))
		}
	}
}

func (cfg Config) options() []loader.Option {
	opts := []loader.Option{loader.WithProfile(loader.ProfileMLX), loader.WithLogger(cfg.Logger)}
	if cfg.Policy != nil {
		opts = append(opts, loader.WithPolicy(cfg.Policy))
	}
	return opts
}

// upload streams the "model" part (and the "bundle" part, when sent) to
// a private temporary directory, never holding it in memory, then
// verifies it.
func (cfg Config) upload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, "usage", err)
		return
	}
	dir, err := os.MkdirTemp(cfg.Spool, "upload-")
	if err != nil {
		writeError(w, http.StatusInternalServerError, formats.KindIO, errors.New("cannot spool the upload"))
		return
	}
	defer os.RemoveAll(dir)
	up, err := receive(mr, dir)
	var tooBig *http.MaxBytesError
	var bad badRequest
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, formats.KindLimitExceeded, fmt.Errorf("upload is over %d bytes", cfg.MaxBytes))
		return
	case errors.Is(err, errBundleTooBig):
		writeError(w, http.StatusRequestEntityTooLarge, formats.KindLimitExceeded, err)
		return
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, "usage", err)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, formats.KindIO, errors.New(redact(err.Error(), dir)))
		return
	}
	var extra []loader.Option
	if up.bundle != "" {
		extra = append(extra, loader.WithBundle(up.bundle))
	}
	cfg.check(r.Context(), w, up.model, dir, extra)
}

// maxBundleBytes bounds a signature bundle: a model_signing manifest of
// tens of thousands of files fits.
const maxBundleBytes = 8 << 20

var errBundleTooBig = fmt.Errorf(`the "bundle" part is over %d bytes`, maxBundleBytes)

// badRequest is a request the client got wrong: answered 400.
type badRequest struct{ error }

// spooled is an upload on disk: the model file, and its bundle if sent.
type spooled struct{ model, bundle string }

// receive writes the parts of an upload into dir: "model" as dir/NAME
// (NAME the part's file name, when it is one plain file name, since a
// signature lists the file by name; "model" otherwise) and "bundle" as
// dir/NAME.sig. Any other part, a part sent twice, or no "model" is a
// bad request.
func receive(mr *multipart.Reader, dir string) (spooled, error) {
	var up spooled
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return up, badRequest{fmt.Errorf("reading the multipart form: %w", err)}
		}
		switch part.FormName() {
		case "model":
			if up.model != "" {
				return up, badRequest{errors.New(`send one "model" part`)}
			}
			up.model = filepath.Join(dir, uploadName(part.FileName()))
			err = spool(up.model, part, -1)
		case "bundle":
			if up.bundle != "" {
				return up, badRequest{errors.New(`send at most one "bundle" part`)}
			}
			up.bundle = filepath.Join(dir, ".bundle")
			err = spool(up.bundle, part, maxBundleBytes)
		default:
			err = badRequest{fmt.Errorf(`unknown part %q: send the model in "model" and its signature, if any, in "bundle"`, part.FormName())}
		}
		if err != nil {
			return up, err
		}
	}
	if up.model == "" {
		return up, badRequest{errors.New(`send the model in a multipart field named "model"`)}
	}
	if up.bundle != "" { // the name a single file's bundle has beside it
		sig := up.model + ".sig"
		if err := os.Rename(up.bundle, sig); err != nil {
			return up, err
		}
		up.bundle = sig
	}
	return up, nil
}

// uploadName is the client's file name when it is one plain file name
// (multipart already kept only its last element), and "model" otherwise.
// It names the file inside the upload's own directory, nothing more.
func uploadName(name string) string {
	if name == "" || name == "." || name == ".." || name == ".bundle" || len(name) > 255 ||
		!utf8.ValidString(name) || strings.ContainsAny(name, "/\\\x00") || !filepath.IsLocal(name) {
		return "model"
	}
	return name
}

// spool copies r to a new file at path, refusing more than max bytes when
// max >= 0.
func spool(path string, r io.Reader, max int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if max >= 0 {
		r = io.LimitReader(r, max+1)
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && max >= 0 && n > max {
		return errBundleTooBig
	}
	return err
}

// byPath checks a model already on a mounted volume, confined to it.
func (cfg Config) byPath(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Path string `json:"path"`
	}
	if cfg.Volume == "" {
		writeError(w, http.StatusNotFound, "usage", errors.New("no volume is configured"))
		return
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() || req.Path == "" {
		writeError(w, http.StatusBadRequest, "usage", errors.New(`send one JSON object {"path": "name"}`))
		return
	}
	if !filepath.IsLocal(req.Path) {
		writeError(w, http.StatusUnprocessableEntity, formats.KindPathTraversal, errors.New(`"path" must be a relative path inside the volume`))
		return
	}
	cfg.check(r.Context(), w, filepath.Join(cfg.Volume, req.Path), cfg.Volume, []loader.Option{loader.WithRoot(cfg.Volume), loader.WithoutHardLinks()})
}

// check verifies the model at path and, when accepted, writes its
// canonical safetensors to the outbox. Messages name files relative to
// base (the upload's directory, or the volume), as the client knows them.
func (cfg Config) check(ctx context.Context, w http.ResponseWriter, path, base string, extra []loader.Option) {
	select {
	case cfg.checks <- struct{}{}:
		defer func() { <-cfg.checks }()
	case <-ctx.Done():
		return // the client left
	}
	m, err := loader.Open(ctx, path, append(cfg.options(), extra...)...)
	if err != nil {
		status := http.StatusUnprocessableEntity
		if formats.KindOf(err) == formats.KindIO {
			status = http.StatusBadRequest
		}
		writeError(w, status, formats.KindOf(err), errors.New(redact(err.Error(), base)))
		return
	}
	defer m.Close()
	resp := Response{OK: true, Tensors: m.Tensors, Verified: m.Verified}
	if cfg.Outbox != "" {
		if resp.Outbox, err = writeOutbox(cfg.Outbox, cfg.OutboxMode&^cfg.umask, m); err != nil {
			cfg.Logger.Error("writing to the outbox", "error", err)
			writeError(w, http.StatusInternalServerError, formats.KindIO, errors.New("cannot write to the outbox"))
			return
		}
	}
	if cfg.Worker != "" {
		if resp.Worker, err = handOff(ctx, cfg.Worker, m); err != nil {
			// A model the seal refuses (MLX cannot load its canonical
			// safetensors, e.g. F64) is a refusal of the model; any other
			// failure is the worker's.
			if k := formats.KindOf(err); k != "" && k != formats.KindIO {
				writeError(w, http.StatusUnprocessableEntity, k, errors.New(redact(err.Error(), base)))
				return
			}
			writeError(w, http.StatusBadGateway, formats.KindIO, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// writeOutbox writes the canonical file under a temporary name and renames
// it to <sha256>.safetensors, so the worker never sees a partial file.
func writeOutbox(dir string, mode os.FileMode, m *loader.Model) (string, error) {
	tmp, err := os.CreateTemp(dir, ".incoming-*")
	if err != nil {
		return "", err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if err := m.WriteSafetensors(io.MultiWriter(tmp, h)); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	name := filepath.Join(dir, hex.EncodeToString(h.Sum(nil))+".safetensors")
	return name, os.Rename(tmp.Name(), name)
}

// redact removes base, a directory of the server's, from a message: the
// files in it are named as the client knows them.
func redact(msg, base string) string {
	if base == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, base+string(filepath.Separator), "")
	return strings.ReplaceAll(msg, base, ".")
}

// healthz answers that the service runs.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`+"\n")
}

func writeError(w http.ResponseWriter, status int, kind formats.Kind, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": map[string]string{"kind": string(kind), "message": err.Error()}})
}
