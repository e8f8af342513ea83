//go:build !modelgate_lean

package main

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// SARIF 2.1.0, the subset code-scanning dashboards read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
	Help             sarifMessage `json:"help"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
	} `json:"physicalLocation"`
}

var kindHelp = map[formats.Kind]string{
	formats.KindMalformed:        "The file breaks the rules of its format.",
	formats.KindLimitExceeded:    "A count or size in the file is over a configured limit.",
	formats.KindUnsupported:      "The file is a format modelgate does not accept.",
	formats.KindPickle:           "The file is, or carries, a pickle, which runs code when loaded.",
	formats.KindUnknownFormat:    "The content is no recognised model format.",
	formats.KindPathTraversal:    "A name or link would reach outside the model's directory.",
	formats.KindDigestMismatch:   "The file's digest differs from the approved one.",
	formats.KindNotAllowlisted:   "No allowlist entry covers the file or signer.",
	formats.KindSignatureInvalid: "A signature does not verify.",
	formats.KindIdentityMismatch: "A valid signature by a signer that is not allowed.",
	formats.KindIO:               "The file could not be read.",
	formats.KindUsage:            "The configuration is wrong or contradictory.",
	formats.KindCode:             "The model holds code that runs on load.",
}

// writeSARIFFile writes the report to path.
func writeSARIFFile(path string, results []loader.ScanResult) error {
	var b bytes.Buffer
	if err := writeSARIF(&b, results); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// writeSARIF writes the SARIF 2.1.0 report of a scan to w.
func writeSARIF(w io.Writer, results []loader.ScanResult) error {
	drv := sarifDriver{Name: "modelgate", Version: version(), InformationURI: "https://github.com/modelgate/modelgate"}
	for _, k := range formats.Kinds {
		help := kindHelp[k]
		if h := kindHint(k); h != "" {
			help += " Hint: " + h + "."
		}
		drv.Rules = append(drv.Rules, sarifRule{ID: string(k), ShortDescription: sarifMessage{kindHelp[k]}, Help: sarifMessage{help}})
	}
	run := sarifRun{Tool: sarifTool{drv}, Results: []sarifResult{}}
	for _, r := range results {
		if r.Verdict != loader.Refused {
			continue
		}
		res := sarifResult{RuleID: string(r.Kind), Level: "error", Message: sarifMessage{r.Reason}}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = (&url.URL{Path: filepath.ToSlash(r.Path)}).EscapedPath()
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	b, err := marshal(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
