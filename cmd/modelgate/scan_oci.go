//go:build !modelgate_lean

package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	godigest "github.com/opencontainers/go-digest"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/safetext"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/loader/oci"
)

// scanOCI lists the tags the scopes name (oci.List), keeps the shard's,
// and gates each as verify gates oci://REPO@DIGEST: one result per tag,
// in path order. A tag that fails is a refusal and the others go on; a
// usage error stops the scan.
func (c *cli) scanOCI(ctx context.Context, lf *loadFlags, scopes []string, shard *oci.Shard) ([]loader.ScanResult, error) {
	if lf.sig.bundle != "" {
		return nil, usageError{fmt.Errorf("--bundle signs one model's files; scan checks each manifest's signatures with --key, --ca or --identity")}
	}
	// The flags, checked once: a mistake in them is no refusal of each tag.
	lopts, err := lf.options("")
	if err != nil {
		return nil, err
	}
	if p, err := loader.PolicyOf(lopts...); err != nil {
		return nil, err
	} else if p != nil && p.Signatures != nil && p.Signatures.Bundle != "" {
		return nil, usageError{fmt.Errorf("--policy: signatures.bundle signs one model's files; scan checks each artifact's own signatures: use a policy without bundle")}
	}
	opts := lf.oci.options()
	seen := map[string]bool{}
	var items []oci.Tagged
	for _, s := range scopes {
		list, err := oci.List(ctx, s, opts...)
		if err != nil {
			if formats.KindOf(err) == formats.KindMalformed {
				return nil, usageError{err}
			}
			return nil, err
		}
		for _, a := range list {
			if !seen[a.String()] && (shard == nil || shard.Owns(a)) {
				seen[a.String()] = true
				items = append(items, a)
			}
		}
	}
	results := make([]loader.ScanResult, 0, len(items))
	for _, a := range items {
		if ctx.Err() != nil {
			break // cancelled: the rest would each be an io refusal
		}
		r, err := gateTag(ctx, lf, a, opts)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	sortResults(results)
	return results, ctx.Err()
}

// gateTag resolves one tag to its digest and verifies the artifact by
// that digest (loadFlags.openVerified, verify's own path).
func gateTag(ctx context.Context, lf *loadFlags, a oci.Tagged, opts []oci.Option) (loader.ScanResult, error) {
	res := loader.ScanResult{Path: a.String(), Tag: a.Tag, Verdict: loader.Refused}
	refuse := func(err error) (loader.ScanResult, error) {
		var u usageError
		if errors.As(err, &u) || formats.KindOf(err) == formats.KindUsage {
			return res, err
		}
		res.Kind, res.Reason = formats.KindOf(err), err.Error()
		return res, nil
	}
	if a.Err != nil {
		return refuse(a.Err)
	}
	r, err := oci.Resolve(ctx, a, opts...)
	if err != nil {
		return refuse(err)
	}
	res.Digest = r.Manifest.Digest.String()
	res.Path = a.Pinned(res.Digest)
	if r.Signature {
		res.Verdict, res.Reason = loader.Ignored, "a signature (cosign simple-signing, Sigstore bundles or DSSE envelopes), not a model"
		return res, nil
	}
	m, err := lf.openVerified(ctx, res.Path)
	if err != nil {
		return refuse(err)
	}
	defer m.Close()
	res.Verdict, res.Tensors = loader.Accepted, len(m.Tensors)
	for i, f := range m.Files {
		res.Size += f.Size
		if i == 0 || f.Format == res.Format {
			res.Format = f.Format
		} else {
			res.Format = "" // several formats
		}
	}
	return res, nil
}

// sortResults puts results in path order (then tag): a sharded scan's
// merge and an unsharded scan list them alike.
func sortResults(results []loader.ScanResult) {
	slices.SortStableFunc(results, func(a, b loader.ScanResult) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Tag, b.Tag))
	})
}

// shardEnd closes a scan's JSON lines: which shard wrote them, of which
// arguments, and how many results precede it. Without it, a shard that
// died mid-write, or never ran, would pass a merge unnoticed.
type shardEnd struct {
	Shard   string   `json:"shard"`  // I/N; 0/1 unsharded
	Scopes  []string `json:"scopes"` // the scan's arguments, sorted
	Results int      `json:"results"`
}

// jsonLine is one line of --jsonl: a result, or the end.
type jsonLine struct {
	loader.ScanResult
	End *shardEnd `json:"end,omitempty"`
}

// writeJSONLines writes one JSON object per result (as --json's files
// writes them), then the end line, to path (- for stdout).
func writeJSONLines(path string, stdout io.Writer, results []loader.ScanResult, end shardEnd) error {
	var b bytes.Buffer
	for _, r := range results {
		line, err := marshalJSONLine(r)
		if err != nil {
			return err
		}
		b.Write(append(line, '\n'))
	}
	line, err := marshal(struct {
		End shardEnd `json:"end"`
	}{end})
	if err != nil {
		return err
	}
	b.Write(append(line, '\n'))
	if path == "-" {
		_, err = stdout.Write(b.Bytes())
	} else {
		err = os.WriteFile(path, b.Bytes(), 0o644)
	}
	if err != nil {
		return formats.WithPath(formats.IOError(formats.NoOffset, err), path)
	}
	return nil
}

// marshalJSONLine writes one result as --json's files writes it, except
// that the reason is always written through safetext.Escape (as the path
// is), not only when it is not UTF-8: a merge reads both back with
// safetext.Unescape, so that the merged report is the unsharded one, byte
// for byte, also for a layout directory whose name holds a backslash or
// bytes that are not UTF-8.
func marshalJSONLine(r loader.ScanResult) ([]byte, error) {
	r.Reason = safetext.Escape(r.Reason)
	return marshal(r)
}

// maxLine bounds one JSON line a merge reads.
const maxLine = 1 << 20

// readShards reads the JSON lines of every shard of one scan and returns
// their results in path order. Refused as usage: a line that is no result
// or end, a file without its end line (or with lines after it), a count
// that differs from its end's, shards of different scans or counts, a
// shard missing or given twice, and a result in two shards. A file that
// does not read is io.
func readShards(paths []string) ([]loader.ScanResult, error) {
	var results []loader.ScanResult
	var first *shardEnd
	var have []bool
	where := map[[2]string]string{}
	for _, p := range paths {
		res, end, err := readShard(p)
		if err != nil {
			return nil, err
		}
		sh, err := oci.ParseShard(end.Shard)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s: end line: %w", p, err)}
		}
		if first == nil {
			first, have = &end, make([]bool, sh.Count)
		}
		switch {
		case !slices.Equal(end.Scopes, first.Scopes):
			return nil, usageError{fmt.Errorf("%s scanned %q, %s %q: not shards of one scan", p, end.Scopes, paths[0], first.Scopes)}
		case sh.Count != len(have):
			return nil, usageError{fmt.Errorf("%s is shard %s, %s one of %d", p, end.Shard, paths[0], len(have))}
		case have[sh.Index]:
			return nil, usageError{fmt.Errorf("%s: shard %s given twice", p, end.Shard)}
		}
		have[sh.Index] = true
		for i, r := range res {
			k := [2]string{r.Path, r.Tag}
			if prev, ok := where[k]; ok {
				return nil, usageError{fmt.Errorf("%s:%d: %s is in %s too: the shards overlap", p, i+1, r.Path, prev)}
			}
			where[k] = p
		}
		results = append(results, res...)
	}
	if i := slices.Index(have, false); i >= 0 {
		return nil, usageError{fmt.Errorf("shard %d/%d is missing", i, len(have))}
	}
	sortResults(results)
	return results, nil
}

// readShard reads one file of JSON lines.
func readShard(p string) ([]loader.ScanResult, shardEnd, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, shardEnd{}, formats.WithPath(formats.IOError(formats.NoOffset, err), p)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var res []loader.ScanResult
	var end *shardEnd
	for n := 1; sc.Scan(); n++ {
		if end != nil {
			return nil, shardEnd{}, usageError{fmt.Errorf("%s:%d: a line after the end line", p, n)}
		}
		r, e, err := parseJSONLine(sc.Bytes())
		if err != nil {
			return nil, shardEnd{}, usageError{fmt.Errorf("%s:%d: %w", p, n, err)}
		}
		if e != nil {
			end = e
			continue
		}
		res = append(res, r)
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return nil, shardEnd{}, usageError{fmt.Errorf("%s: a line longer than %d bytes", p, maxLine)}
	case err != nil:
		return nil, shardEnd{}, formats.WithPath(formats.IOError(formats.NoOffset, err), p)
	case end == nil:
		return nil, shardEnd{}, usageError{fmt.Errorf("%s: no end line: the shard did not finish", p)}
	case end.Results != len(res):
		return nil, shardEnd{}, usageError{fmt.Errorf("%s: %d results, its end line says %d", p, len(res), end.Results)}
	}
	return res, *end, nil
}

// parseJSONLine reads one line: a scan result or an end line, one JSON
// object with no unknown member and nothing after it.
func parseJSONLine(b []byte) (loader.ScanResult, *shardEnd, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var l jsonLine
	if err := dec.Decode(&l); err != nil {
		return loader.ScanResult{}, nil, fmt.Errorf("not a scan result: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return loader.ScanResult{}, nil, fmt.Errorf("not one JSON object")
	}
	if b = bytes.TrimSpace(b); len(b) == 0 || b[0] != '{' {
		return loader.ScanResult{}, nil, fmt.Errorf("not a JSON object")
	}
	r := l.ScanResult
	var err error
	if r.Path, err = safetext.Unescape(r.Path); err != nil {
		return r, nil, fmt.Errorf("path %q: %v", l.Path, err)
	}
	if r.Reason, err = safetext.Unescape(r.Reason); err != nil {
		return r, nil, fmt.Errorf("reason %q: %v", l.Reason, err)
	}
	if l.End != nil {
		if r != (loader.ScanResult{}) {
			return r, nil, fmt.Errorf("an end line with a result's members")
		}
		if len(l.End.Scopes) == 0 {
			return r, nil, fmt.Errorf("an end line with no scopes")
		}
		return r, l.End, nil
	}
	switch {
	case r.Path == "":
		return r, nil, fmt.Errorf("a result with no path")
	case r.Verdict != loader.Accepted && r.Verdict != loader.Refused && r.Verdict != loader.Ignored:
		return r, nil, fmt.Errorf("verdict %q is none of accepted, refused, ignored", r.Verdict)
	case r.Verdict == loader.Refused && !slices.Contains(formats.Kinds, r.Kind):
		return r, nil, fmt.Errorf("a refusal of kind %q, which is no kind", r.Kind)
	case r.Verdict != loader.Refused && r.Kind != "":
		return r, nil, fmt.Errorf("an %s result with kind %q", r.Verdict, r.Kind)
	case r.Size < 0 || r.Tensors < 0:
		return r, nil, fmt.Errorf("a negative size or tensor count")
	}
	if r.Digest != "" {
		if _, err := godigest.Parse(r.Digest); err != nil {
			return r, nil, fmt.Errorf("digest %q: %v", r.Digest, err)
		}
	}
	return r, nil, nil
}
