package main

import (
	"fmt"
	"io"
	"path"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/safetext"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// scanSummary counts verdicts.
type scanSummary struct {
	Files    int `json:"files"`
	Accepted int `json:"accepted"`
	Refused  int `json:"refused"`
	Ignored  int `json:"ignored"`
}

func (c *cli) newScan() *cobra.Command {
	var opts loader.ScanOptions
	var sarifPath, policyPath string
	cmd := &cobra.Command{
		Use:   "scan [--json] [--sarif FILE|-] [--follow-symlinks] [--exclude GLOB]... [--policy FILE] PATH...",
		Short: "Classify every file under PATHs and refuse anything not provably safe (a CI gate)",
		Long: `scan walks files and directories, identifies every file by content, parses
safetensors, npy, npz and GGUF strictly, and refuses everything else. It exits 0
only if no file is refused.

Ignored, and listed as such: directories .git, .hg and .svn at the top of a
scanned directory (deeper ones are ordinary folders); files whose
content is no known format and that are text (UTF-8 without NUL in the first
8 KiB), empty, a SentencePiece model, or a PNG, JPEG, GIF, WebP or PDF that
ends where its structure ends. A file of any known format (a pickle above
all) is checked whatever its name. A chat template that reaches what jinja2's
sandbox forbids is code unless the policy's chat_templates approves it.

Symbolic links inside a scanned directory are refused (path-traversal), as
every command refuses them, or with --follow-symlinks checked as their
targets when they stay inside. A Hugging Face cache snapshot's links must
resolve into its repository's blobs/; a cache repository folder is scanned
as its snapshot (--revision).

--exclude GLOB (repeatable) and a policy's scan section (include and
exclude patterns) let a repository's images, archives and other files that
are no model go unrefused; names never excuse weights, code, a pickle or
another model format.

When several files are refused, the summary line and JSON's error.kind
name the most severe refusal: pickle and code, then path-traversal, then
digest and signature kinds, then malformed and limit-exceeded, then
unsupported and unknown-format, then io.`,
		Example: `  modelgate scan ./models
  modelgate scan --exclude 'docs/*' --exclude '*.png' .
  modelgate scan --json --sarif modelgate.sarif ./models > scan.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("scan needs at least one PATH")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyPath != "" {
				p, err := verify.LoadPolicy(policyPath)
				if err != nil {
					return usageError{fmt.Errorf("--policy: %w", err)}
				}
				opts.Limits, opts.ChatTemplates = p.FormatLimits(), p.ChatTemplates
				if s := p.Scan; s != nil {
					opts.Include = append(opts.Include, s.Include...)
					opts.Exclude = append(opts.Exclude, s.Exclude...)
				}
			}
			for _, pat := range append(slices.Clone(opts.Exclude), opts.Include...) {
				if _, err := path.Match(pat, ""); err != nil {
					return usageError{fmt.Errorf("pattern %q: %w", pat, err)}
				}
			}
			results, err := loader.Scan(cmd.Context(), args, opts)
			if err != nil {
				return err
			}
			switch {
			case sarifPath == "-" && c.json:
				return usageError{fmt.Errorf("--sarif - and --json both want stdout; write the SARIF to a file")}
			case sarifPath == "-":
				// stdout carries the SARIF report alone; the exit code says the rest.
				if err := writeSARIF(c.stdout, results); err != nil {
					return formats.Errorf(formats.KindIO, formats.NoOffset, "writing SARIF: %w", err)
				}
				return scanError(results)
			case sarifPath != "":
				if err := writeSARIFFile(sarifPath, results); err != nil {
					return formats.Errorf(formats.KindIO, formats.NoOffset, "writing %s: %w", sarifPath, err)
				}
			}
			return c.reportScan(results)
		},
	}
	cmd.Flags().BoolVar(&opts.FollowSymlinks, "follow-symlinks", false, "check the targets of symbolic links that stay inside a scanned directory")
	cmd.Flags().StringVar(&opts.Revision, "revision", "", revisionUsage)
	cmd.Flags().StringArrayVar(&opts.Exclude, "exclude", nil, "ignore files matching `GLOB` that are no model, pickle or code (repeatable)")
	cmd.Flags().StringVar(&policyPath, "policy", "", "apply the policy in `FILE`: its limits and scan section")
	cmd.Flags().StringVar(&sarifPath, "sarif", "", "also write a SARIF 2.1.0 report to `FILE` (- for stdout, instead of the table)")
	return cmd
}

// summarize counts the verdicts; the error, which sets the exit code and
// JSON's error.kind, names the most severe refusal (formats.KindsBySeverity:
// a pickle before an unknown format), the first of them on a tie.
func summarize(results []loader.ScanResult) (scanSummary, error) {
	var sum scanSummary
	var worst *loader.ScanResult
	for i, r := range results {
		sum.Files++
		switch r.Verdict {
		case loader.Accepted:
			sum.Accepted++
		case loader.Ignored:
			sum.Ignored++
		default:
			sum.Refused++
			if worst == nil || formats.MoreSevere(r.Kind, worst.Kind) {
				worst = &results[i]
			}
		}
	}
	if worst == nil {
		return sum, nil
	}
	return sum, formats.WithPath(formats.Errorf(worst.Kind, formats.NoOffset, "%d of %d files refused; the most severe: %s", sum.Refused, sum.Files, worst.Reason), worst.Path)
}

// scanError is the scan's error, for the exit code, when nothing else is
// printed to stdout.
func scanError(results []loader.ScanResult) error {
	if _, err := summarize(results); err != nil {
		return silent{err}
	}
	return nil
}

func (c *cli) reportScan(results []loader.ScanResult) error {
	sum, refusal := summarize(results)
	if c.json {
		if refusal != nil {
			_, je := classify(refusal)
			_ = c.printJSON(struct {
				OK      bool                `json:"ok"`
				Files   []loader.ScanResult `json:"files"`
				Summary scanSummary         `json:"summary"`
				Error   jsonError           `json:"error"`
			}{false, results, sum, je})
			return silent{refusal}
		}
		return c.emit(struct {
			Files   []loader.ScanResult `json:"files"`
			Summary scanSummary         `json:"summary"`
		}{results, sum})
	}
	printScan(c.stdout, results, sum)
	if refusal != nil {
		return silent{refusal}
	}
	return nil
}

func printScan(w io.Writer, results []loader.ScanResult, sum scanSummary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERDICT\tFORMAT\tKIND\tPATH\tREASON")
	for _, r := range results {
		format, kind := string(r.Format), string(r.Kind)
		if format == "" {
			format = "-"
		}
		if kind == "" {
			kind = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Verdict, format, kind, safetext.Escape(r.Path), safetext.Escape(r.Reason))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d files: %d accepted, %d refused, %d ignored\n", sum.Files, sum.Accepted, sum.Refused, sum.Ignored)
}

// silent is a refusal already reported on stdout: finish sets the exit
// code and prints the error line, but no second JSON object.
type silent struct{ error }

func (s silent) Unwrap() error { return s.error }
