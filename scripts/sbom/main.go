// Command sbom writes an SPDX 2.3 JSON software bill of materials for a Go
// binary, from the build information the Go linker embeds in it: the main
// module, the Go standard library at the toolchain's version, and every
// module linked, each with its version, go.sum hash and package URL.
// scripts/release.sh runs it for each release binary.
//
//	go run ./scripts/sbom BINARY > BINARY.spdx.json
//
// The creation time is $SOURCE_DATE_EPOCH when set (the release sets it
// to the commit's time), so that the document is reproducible.
package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type externalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type pkg struct {
	SPDXID           string        `json:"SPDXID"`
	Name             string        `json:"name"`
	Version          string        `json:"versionInfo,omitempty"`
	DownloadLocation string        `json:"downloadLocation"`
	FilesAnalyzed    bool          `json:"filesAnalyzed"`
	Checksums        []checksum    `json:"checksums,omitempty"`
	ExternalRefs     []externalRef `json:"externalRefs,omitempty"`
	Comment          string        `json:"comment,omitempty"`
}

type relationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

type document struct {
	SPDXVersion       string `json:"spdxVersion"`
	DataLicense       string `json:"dataLicense"`
	SPDXID            string `json:"SPDXID"`
	Name              string `json:"name"`
	DocumentNamespace string `json:"documentNamespace"`
	CreationInfo      struct {
		Created  string   `json:"created"`
		Creators []string `json:"creators"`
	} `json:"creationInfo"`
	Packages      []pkg          `json:"packages"`
	Relationships []relationship `json:"relationships"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sbom BINARY")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
}

func run(bin string, w io.Writer) error {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return err
	}
	f, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))

	created := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %v", err)
		}
		created = time.Unix(sec, 0).UTC()
	}
	var d document
	d.SPDXVersion = "SPDX-2.3"
	d.DataLicense = "CC0-1.0"
	d.SPDXID = "SPDXRef-DOCUMENT"
	d.Name = filepath.Base(bin)
	d.DocumentNamespace = "https://github.com/modelgate/modelgate/spdx/" + d.Name + "-" + sum
	d.CreationInfo.Created = created.Format(time.RFC3339)
	d.CreationInfo.Creators = []string{"Tool: modelgate scripts/sbom", "Organization: modelgate"}

	main := pkg{
		SPDXID:           "SPDXRef-Binary",
		Name:             info.Path,
		Version:          info.Main.Version,
		DownloadLocation: "NOASSERTION",
		Checksums:        []checksum{{"SHA256", sum}},
		ExternalRefs:     []externalRef{purl(info.Main.Path, info.Main.Version)},
		Comment:          "built by " + info.GoVersion + settings(info),
	}
	d.Packages = append(d.Packages, main)
	d.Relationships = append(d.Relationships, relationship{"SPDXRef-DOCUMENT", "DESCRIBES", main.SPDXID})
	std := pkg{
		SPDXID:           "SPDXRef-stdlib",
		Name:             "stdlib",
		Version:          info.GoVersion,
		DownloadLocation: "https://go.dev/dl/",
		ExternalRefs:     []externalRef{purl("stdlib", info.GoVersion)},
	}
	d.Packages = append(d.Packages, std)
	d.Relationships = append(d.Relationships, relationship{main.SPDXID, "DEPENDS_ON", std.SPDXID})
	for i, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		p := pkg{
			SPDXID:           "SPDXRef-Module-" + strconv.Itoa(i),
			Name:             m.Path,
			Version:          m.Version,
			DownloadLocation: "NOASSERTION",
			ExternalRefs:     []externalRef{purl(m.Path, m.Version)},
		}
		if m.Sum != "" {
			p.Comment = "go.sum " + m.Sum
		}
		d.Packages = append(d.Packages, p)
		d.Relationships = append(d.Relationships, relationship{main.SPDXID, "DEPENDS_ON", p.SPDXID})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// purl is the package URL of a Go module (purl-spec's golang type).
func purl(path, version string) externalRef {
	loc := "pkg:golang/" + strings.ToLower(path)
	if version != "" && version != "(devel)" {
		loc += "@" + version
	}
	return externalRef{"PACKAGE-MANAGER", "purl", loc}
}

// settings lists the build settings that decide the binary's bytes.
func settings(info *buildinfo.BuildInfo) string {
	var b strings.Builder
	for _, s := range info.Settings {
		switch s.Key {
		case "-trimpath", "-ldflags", "CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64", "vcs.revision":
			fmt.Fprintf(&b, "; %s=%s", s.Key, s.Value)
		}
	}
	return b.String()
}
