//go:build !modelgate_lean

package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/safetext"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/loader/oci"
	"github.com/modelgate/modelgate/verify"
)

// scanSummary counts verdicts. JSON keeps the member "files" for OCI
// artifacts too; the text says what was scanned.
type scanSummary struct {
	Files    int  `json:"files"`
	Accepted int  `json:"accepted"`
	Refused  int  `json:"refused"`
	Ignored  int  `json:"ignored"`
	oci      bool // every result is an OCI artifact (a tag or digest), none a file
}

// what names the things scanned, n of them: files, or OCI artifacts.
func (s scanSummary) what(n int) string {
	switch {
	case !s.oci:
		return "files"
	case n == 1:
		return "artifact"
	}
	return "artifacts"
}

// isArtifact reports whether a scan result is an OCI artifact: a tag or
// digest scanned (scan oci://, oci-layout:, or a merge of their shards),
// or a repository that did not list.
func isArtifact(r loader.ScanResult) bool {
	return r.Tag != "" || r.Digest != "" || strings.HasPrefix(r.Path, "oci://") || strings.HasPrefix(r.Path, "oci-layout:")
}

func (c *cli) newScan() *cobra.Command {
	var opts loader.ScanOptions
	lf := loadFlags{mode: "map"} // --policy and --exclude; for oci://, verify's OCI and signature flags, and its default mode
	var out scanOutputs
	var shard string
	var merge bool
	ociFlags := pflag.NewFlagSet("oci", pflag.ContinueOnError)
	cmd := &cobra.Command{
		Use:   "scan [--json] [--sarif FILE|-] [--jsonl FILE|-] [--follow-symlinks] [--exclude GLOB]... [--policy FILE] PATH|oci://REGISTRY[/REPO]...",
		Short: "Classify every file under PATHs, or gate every tag of OCI repositories, and refuse anything not provably safe (a CI gate)",
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

OCI: oci://REGISTRY/REPO lists the repository's tags, oci://REGISTRY the
registry's catalog and then each repository's tags (oci-layout:DIR, a
layout's tags; a reference with a tag or digest, that one). Each tag is
resolved to its manifest digest and gated exactly as
'verify oci://REGISTRY/REPO@DIGEST' would, with verify's OCI and signature
flags and --policy: one result per tag, path REPO:TAG@DIGEST. A tag whose
manifest holds only signatures (cosign, Sigstore bundles, DSSE envelopes)
is ignored. --shard I/N (0 <= I < N) keeps the tags whose "REPO:TAG" hashes
to I modulo N (SHA-256), so that N jobs (a Kubernetes Indexed Job) split a
registry with no scheduler; --jsonl writes one JSON object per result and
a closing {"end":{...}} line; --merge FILE... reads every shard's lines back
(all N shards, each complete, none overlapping, or a usage error) and
reports as one scan: table, --json, --sarif, exit code.

When several files are refused, the summary line and JSON's error.kind
name the most severe refusal: pickle and code, then path-traversal, then
digest and signature kinds, then malformed and limit-exceeded, then
unsupported and unknown-format, then io.`,
		Example: `  modelgate scan ./models
  modelgate scan --exclude 'docs/*' --exclude '*.png' .
  modelgate scan --json --sarif modelgate.sarif ./models > scan.json
  modelgate scan --key release.pub oci://registry.example/models
  modelgate scan --shard 0/4 --jsonl shard-0.jsonl oci://registry.example
  modelgate scan --merge --sarif registry.sarif shard-*.jsonl`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("scan needs at least one PATH")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(c.json); err != nil {
				return err
			}
			if merge {
				if other := changed(cmd, func(name string) bool { return name != "merge" && name != "sarif" && name != "json" }); len(other) > 0 {
					return usageError{fmt.Errorf("--merge reads the shards' JSON lines and takes only --json and --sarif, not %s", strings.Join(other, ", "))}
				}
				results, err := readShards(args)
				if err != nil {
					return err
				}
				return c.finishScan(results, out, shardEnd{})
			}
			var paths, scopes []string
			for _, a := range args {
				if oci.IsReference(a) {
					scopes = append(scopes, a)
				} else {
					paths = append(paths, a)
				}
			}
			var sh *oci.Shard
			if cmd.Flags().Changed("shard") {
				s, err := oci.ParseShard(shard)
				if err != nil {
					return usageError{err}
				}
				if len(paths) > 0 {
					return usageError{fmt.Errorf("--shard splits OCI tags; %s is no oci:// reference (every shard would scan it)", paths[0])}
				}
				sh = &s
			}
			ociOnly := changed(cmd, func(name string) bool { return ociFlags.Lookup(name) != nil })
			if len(scopes) == 0 && len(ociOnly) > 0 {
				return usageError{fmt.Errorf("%s apply to oci:// references only", strings.Join(ociOnly, ", "))}
			}
			var results []loader.ScanResult
			if len(paths) > 0 {
				opts.Exclude = lf.exclude
				res, err := scanPaths(cmd.Context(), paths, opts, lf.policy)
				if err != nil {
					return err
				}
				results = res
			}
			if len(scopes) > 0 {
				res, err := c.scanOCI(cmd.Context(), &lf, scopes, sh)
				if err != nil {
					return err
				}
				results = append(results, res...)
			}
			end := shardEnd{Shard: "0/1", Scopes: slices.Sorted(slices.Values(args)), Results: len(results)}
			if sh != nil {
				end.Shard = sh.String()
			}
			return c.finishScan(results, out, end)
		},
	}
	cmd.Flags().BoolVar(&opts.FollowSymlinks, "follow-symlinks", false, "check the targets of symbolic links that stay inside a scanned directory")
	cmd.Flags().StringVar(&opts.Revision, "revision", "", revisionUsage)
	cmd.Flags().StringArrayVar(&lf.exclude, "exclude", nil, "ignore files matching `GLOB` that are no model, pickle or code (repeatable)")
	cmd.Flags().StringVar(&lf.policy, "policy", "", "apply the policy in `FILE`: its limits and scan section (oci://: as verify applies it)")
	cmd.Flags().StringVar(&out.sarif, "sarif", "", "also write a SARIF 2.1.0 report to `FILE` (- for stdout, instead of the table)")
	cmd.Flags().StringVar(&out.jsonl, "jsonl", "", "also write one JSON object per result, then an end line, to `FILE` (- for stdout)")
	cmd.Flags().BoolVar(&merge, "merge", false, "report the --jsonl FILEs of all shards of a scan as one scan")
	ociFlags.StringVar(&shard, "shard", "", "scan only the OCI tags of shard `I/N` (0 <= I < N)")
	lf.oci.register(ociFlags)
	lf.sig.register(ociFlags)
	for _, name := range []string{"bundle", "signature"} {
		_ = ociFlags.MarkHidden(name) // refused: a bundle signs one model's files (scanOCI)
	}
	cmd.Flags().AddFlagSet(ociFlags)
	return cmd
}

// changed lists, as --NAME, the flags given whose names pick accepts.
func changed(cmd *cobra.Command, pick func(name string) bool) []string {
	var out []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if pick(f.Name) {
			out = append(out, "--"+f.Name)
		}
	})
	return out
}

// scanPaths scans files and directories, with the policy's limits, chat
// templates and scan section.
func scanPaths(ctx context.Context, paths []string, opts loader.ScanOptions, policyPath string) ([]loader.ScanResult, error) {
	if policyPath != "" {
		p, err := verify.LoadPolicy(policyPath)
		if err != nil {
			return nil, usageError{fmt.Errorf("--policy: %w", err)}
		}
		opts.Limits, opts.ChatTemplates = p.FormatLimits(), p.ChatTemplates
		if s := p.Scan; s != nil {
			opts.Include = append(opts.Include, s.Include...)
			opts.Exclude = append(opts.Exclude, s.Exclude...)
		}
	}
	for _, pat := range append(slices.Clone(opts.Exclude), opts.Include...) {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, usageError{fmt.Errorf("pattern %q: %w", pat, err)}
		}
	}
	return loader.Scan(ctx, paths, opts)
}

// scanOutputs are where a scan's machine output goes besides stdout.
type scanOutputs struct{ sarif, jsonl string }

// check refuses two outputs on stdout.
func (o scanOutputs) check(json bool) error {
	switch {
	case o.sarif == "-" && json:
		return usageError{fmt.Errorf("--sarif - and --json both want stdout; write the SARIF to a file")}
	case o.jsonl == "-" && (json || o.sarif == "-"):
		return usageError{fmt.Errorf("--jsonl - shares stdout with nothing: write --json's or --sarif's report to a file")}
	}
	return nil
}

// finishScan writes the JSON lines and SARIF, and reports the results;
// end closes the JSON lines.
func (c *cli) finishScan(results []loader.ScanResult, out scanOutputs, end shardEnd) error {
	if out.jsonl != "" {
		if err := writeJSONLines(out.jsonl, c.stdout, results, end); err != nil {
			return err
		}
	}
	switch {
	case out.sarif == "-":
		// stdout carries the SARIF report alone; the exit code says the rest.
		if err := writeSARIF(c.stdout, results); err != nil {
			return formats.Errorf(formats.KindIO, formats.NoOffset, "writing SARIF: %w", err)
		}
		return scanError(results)
	case out.sarif != "":
		if err := writeSARIFFile(out.sarif, results); err != nil {
			return formats.Errorf(formats.KindIO, formats.NoOffset, "writing %s: %w", out.sarif, err)
		}
	}
	if out.jsonl == "-" {
		return scanError(results)
	}
	return c.reportScan(results)
}

// summarize counts the verdicts; the error, which sets the exit code and
// JSON's error.kind, names the most severe refusal (formats.KindsBySeverity:
// a pickle before an unknown format), the first of them on a tie.
func summarize(results []loader.ScanResult) (scanSummary, error) {
	var sum scanSummary
	var worst *loader.ScanResult
	sum.oci = len(results) > 0
	for i, r := range results {
		sum.Files++
		sum.oci = sum.oci && isArtifact(r)
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
	return sum, formats.WithPath(formats.Errorf(worst.Kind, formats.NoOffset, "%d of %d %s refused; the most severe: %s", sum.Refused, sum.Files, sum.what(sum.Files), worst.Reason), worst.Path)
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
	fmt.Fprintf(w, "%d %s: %d accepted, %d refused, %d ignored\n", sum.Files, sum.what(sum.Files), sum.Accepted, sum.Refused, sum.Ignored)
}
