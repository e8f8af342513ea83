package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/safetext"
	"github.com/modelgate/modelgate/loader"
)

// Exit codes, part of the CLI contract.
const (
	exitOK      = 0
	exitRefused = 1
	exitUsage   = 2
	exitIO      = 3
	// run only: the consumer could not start or exited non-zero (4), or
	// was killed by a signal (5).
	exitConsumerFailed = 4
	exitConsumerSignal = 5
)

// usageError marks a mistake in how the command was called.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// cli carries the streams and the output mode of one invocation.
type cli struct {
	stdout, stderr io.Writer
	json           bool
}

func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	root := c.newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	return c.finish(err)
}

func (c *cli) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "modelgate",
		Short: "Refuse model-weight files that are not provably safe to load",
		Long: `modelgate stands between untrusted model-weight files and the programs that
load them. It identifies files by content, parses safetensors strictly, and
refuses everything else, pickles above all.

Exit codes: 0 accepted, 1 refused, 2 usage error, 3 I/O error; run also
4 its consumer failed, 5 its consumer was killed by a signal.`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q; see modelgate --help", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(c.stderr)
			_ = cmd.Usage()
			return usageError{errors.New("no command given")}
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.SetGlobalNormalizationFunc(underscoresAsDashes)
	root.PersistentFlags().BoolVar(&c.json, "json", false, "print one JSON object on stdout")
	root.AddCommand(c.commands()...)
	return root
}

// exactArgs is cobra.ExactArgs, reported as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// version is the module version go install recorded, with the VCS
// revision and Go version when known.
func (c *cli) newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version, the commit it was built from, and the Go version",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.json {
				return c.emit(struct {
					Version string `json:"version"`
				}{version()})
			}
			fmt.Fprintln(c.stdout, "modelgate", version())
			return nil
		},
	}
}

// releaseVersion is the version a release build stamps in with
// -ldflags "-X main.releaseVersion=vX.Y.Z" (scripts/release.sh), for builds
// whose module version go cannot know (a build from a checkout, with
// -trimpath and no VCS stamp).
var releaseVersion string

func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	v := info.Main.Version
	if releaseVersion != "" {
		v = releaseVersion
	} else if v == "" {
		v = "(devel)"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + info.GoVersion
}

// emit prints a successful result v (a struct encoding as a JSON object)
// with "ok":true as its first member, when --json is set. Without --json it
// does nothing: the command prints its human output itself.
func (c *cli) emit(v any) error {
	if !c.json {
		return nil
	}
	b, err := marshal(v)
	if err != nil {
		return err
	}
	if len(b) < 2 || b[0] != '{' {
		return fmt.Errorf("internal error: result is not a JSON object")
	}
	obj := []byte(`{"ok":true`)
	if len(b) > 2 {
		obj = append(obj, ',')
	}
	return c.writeJSON(append(obj, b[1:]...))
}

// marshal encodes v as JSON without escaping <, > and & (a descr is "<f4"),
// names escaped as in text output (escapeNames).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(escapeNames(v)); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func (c *cli) printJSON(v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	return c.writeJSON(b)
}

func (c *cli) writeJSON(b []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := c.stdout.Write(out.Bytes())
	return err
}

// jsonError is the "error" member of a refusal.
type jsonError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Path    string `json:"path,omitempty"`
	Field   string `json:"field,omitempty"`
	Offset  *int64 `json:"offset,omitempty"`
}

// finish reports err and returns the exit code.
func (c *cli) finish(err error) int {
	if err == nil {
		return exitOK
	}
	code, je := classify(err)
	var quiet silent
	if c.json && !errors.As(err, &quiet) {
		_ = c.printJSON(struct {
			OK    bool      `json:"ok"`
			Error jsonError `json:"error"`
		}{false, je})
	}
	fmt.Fprintf(c.stderr, "modelgate: error: %s\n", safetext.Escape(err.Error()))
	if h := hint(err); h != "" && isTerminal(c.stderr) {
		fmt.Fprintf(c.stderr, "modelgate: hint: %s\n", h)
	}
	return code
}

// silent is a refusal already reported on stdout: finish sets the exit
// code and prints the error line, but no second JSON object.
type silent struct{ error }

func (s silent) Unwrap() error { return s.error }

func classify(err error) (int, jsonError) {
	var u usageError
	if errors.As(err, &u) {
		return exitUsage, jsonError{Kind: "usage", Message: err.Error()}
	}
	var ce *consumerError
	if errors.As(err, &ce) {
		return ce.exitCode(), jsonError{Kind: "consumer", Message: err.Error()}
	}
	je := jsonError{Kind: string(formats.KindOf(err)), Message: err.Error()}
	var fe *formats.Error
	if errors.As(err, &fe) {
		je.Path, je.Field = fe.Path, fe.Field
		if fe.Offset >= 0 {
			je.Offset = &fe.Offset
		}
	}
	switch formats.KindOf(err) {
	case formats.KindIO:
		return exitIO, je
	case formats.KindUsage:
		return exitUsage, je
	}
	return exitRefused, je
}

// hint says what to do about err: the library states the facts (typed
// causes and kinds); the CLI maps them to its flags.
func hint(err error) string {
	var several *loader.SeveralFormatsError
	switch {
	case errors.As(err, &several):
		return severalFormatsHint(several)
	case signatureHint(err) != "":
		return signatureHint(err)
	case errors.Is(err, loader.ErrRawFP8):
		return "--allow-raw-fp8 accepts them if the caller reinterprets them"
	case formats.KindOf(err) == formats.KindUnsupported && strings.Contains(err.Error(), "MLX"):
		return "modelgate convert --to safetensors IN OUT, with the same digest or signature flags, writes a file MLX reads correctly"
	}
	return kindHint(formats.KindOf(err))
}

// severalFormatsHint says what to do with a repository that ships its
// weights in several formats: keep only what is loaded.
func severalFormatsHint(e *loader.SeveralFormatsError) string {
	patterns := map[string]bool{}
	for _, name := range e.Loads {
		if ext := path.Ext(name); ext != "" {
			patterns["'*"+ext+"'"] = true
		} else {
			patterns["'"+name+"'"] = true
		}
	}
	include := strings.Join(append(slices.Sorted(maps.Keys(patterns)), "'*.json'"), " ") // and the configs
	return fmt.Sprintf("keep only the files your consumer loads: fetch them alone (hf download REPO --include %s; "+
		"snapshot_download(allow_patterns=[...]) in huggingface_hub) or delete %s; "+
		"exclusions excuse only files nothing ever loads, never weights or pickles; "+
		"or hand the consumer only the verified tensors: modelgate convert --to safetensors, with verify's flags, on %s",
		include, strings.Join(e.Refused, ", "), strings.Join(e.Loads, ", "))
}

// kindHint says what to do about a refusal of kind k.
func kindHint(k formats.Kind) string {
	switch k {
	case formats.KindPickle:
		return "pickles run code when loaded; convert the model to safetensors in a sandbox you trust"
	case formats.KindUnknownFormat, formats.KindUnsupported:
		return "modelgate accepts safetensors, npy, npz and GGUF; convert the model to safetensors"
	case formats.KindLimitExceeded:
		return "if the file is trusted and really this large, raise the limit named in the error"
	case formats.KindCode:
		return "code runs on load: only with --allow-code (policy allow_code) and digests or a signature covering it"
	case formats.KindNotAllowlisted:
		return "approve every file: --sha256-file SUMS (modelgate hash DIR > SUMS), --exclude GLOB for inert files, or a signature"
	}
	return ""
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
