// Package sbom writes SPDX 2.3 documents (JSON) for Tremolo's images: the
// image, its Go binary with every module linked into it (taken from the
// binary's build info), the Go standard library, and the base files (CA
// certificates, time zone data). Output is deterministic: the same input
// gives the same bytes.
package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"time"
	"unicode"
)

// MediaType of the documents.
const MediaType = "application/spdx+json"

// Component is a non-Go part of the image (CA bundle, time zone data).
type Component struct {
	ID          string // short identifier, e.g. "ca-certificates"
	Name        string
	Version     string
	PURL        string // optional package URL
	Download    string // optional download location (NOASSERTION when empty)
	Supplier    string // optional, e.g. "Organization: Mozilla"
	Description string
}

// Input is what one document describes.
type Input struct {
	Service  string // e.g. "user"
	Platform string // e.g. "linux/arm64"
	// Image is the manifest digest ("sha256:...") of the image described.
	Image string
	// Binary is the executable's path in the image and its sha256 (hex).
	BinaryPath   string
	BinarySHA256 string
	// Build is the binary's build info (runtime/debug format): Go version,
	// main module and package, every module linked in, build settings.
	Build *debug.BuildInfo
	// BuildNote says where Build came from (e.g. "go build" or the Bazel
	// dependency graph); it ends up in the binary's comment.
	BuildNote string
	Revision  string // source revision of the main module
	Source    string // repository URL
	Created   time.Time
	Base      []Component
	// Namespace prefixes the document namespace (a URI); the document's
	// own part is derived from Service, Platform and BinarySHA256.
	Namespace string
}

// Document is an SPDX 2.3 document (the fields Tremolo writes).
type Document struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      CreationInfo   `json:"creationInfo"`
	DocumentDescribes []string       `json:"documentDescribes"`
	Packages          []Package      `json:"packages"`
	Relationships     []Relationship `json:"relationships"`
}

// CreationInfo says who made the document and when.
type CreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

// Package is an SPDX package.
type Package struct {
	SPDXID                string        `json:"SPDXID"`
	Name                  string        `json:"name"`
	VersionInfo           string        `json:"versionInfo,omitempty"`
	PackageFileName       string        `json:"packageFileName,omitempty"`
	Supplier              string        `json:"supplier,omitempty"`
	DownloadLocation      string        `json:"downloadLocation"`
	FilesAnalyzed         bool          `json:"filesAnalyzed"`
	Checksums             []Checksum    `json:"checksums,omitempty"`
	LicenseConcluded      string        `json:"licenseConcluded"`
	LicenseDeclared       string        `json:"licenseDeclared"`
	CopyrightText         string        `json:"copyrightText"`
	Description           string        `json:"description,omitempty"`
	Comment               string        `json:"comment,omitempty"`
	PrimaryPackagePurpose string        `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs          []ExternalRef `json:"externalRefs,omitempty"`
}

// Checksum of a package.
type Checksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

// ExternalRef is, here, always a package URL.
type ExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

// Relationship between two SPDX elements.
type Relationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

const noAssertion = "NOASSERTION"

// Generate returns the SPDX JSON document for in.
func Generate(in Input) ([]byte, error) {
	doc, err := Build(in)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Build returns the document for in.
func Build(in Input) (*Document, error) {
	if in.Build == nil || in.Build.GoVersion == "" {
		return nil, fmt.Errorf("sbom %s %s: no build info", in.Service, in.Platform)
	}
	if in.Service == "" || in.Platform == "" || in.BinarySHA256 == "" || in.Image == "" {
		return nil, fmt.Errorf("sbom: service, platform, binary digest and image digest are required")
	}
	osName, arch, _ := strings.Cut(in.Platform, "/")
	imageHex := strings.TrimPrefix(in.Image, "sha256:")
	doc := &Document{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              fmt.Sprintf("%s-%s-%s", in.Service, osName, arch),
		DocumentNamespace: fmt.Sprintf("%s/%s/%s-%s/%s", strings.TrimSuffix(in.Namespace, "/"), in.Service, osName, arch, in.BinarySHA256),
		CreationInfo: CreationInfo{
			Created:  in.Created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: tremolo-publish", "Organization: Tremolo"},
		},
		DocumentDescribes: []string{"SPDXRef-Image"},
	}
	rel := func(a, typ, b string) {
		doc.Relationships = append(doc.Relationships, Relationship{a, typ, b})
	}
	rel("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image")

	// The image.
	doc.Packages = append(doc.Packages, Package{
		SPDXID:                "SPDXRef-Image",
		Name:                  in.Service,
		VersionInfo:           in.Revision,
		DownloadLocation:      noAssertion,
		Checksums:             []Checksum{{"SHA256", imageHex}},
		Description:           fmt.Sprintf("Tremolo %s service image for %s", in.Service, in.Platform),
		PrimaryPackagePurpose: "CONTAINER",
		ExternalRefs:          []ExternalRef{purl(fmt.Sprintf("pkg:oci/%s@sha256%%3A%s?arch=%s&os=%s", strings.ToLower(in.Service), imageHex, arch, osName))},
	}.withDefaults())

	// The binary: the main package of the main module.
	bi := in.Build
	mainVersion := bi.Main.Version
	if mainVersion == "" || mainVersion == "(devel)" {
		mainVersion = in.Revision
	}
	binary := Package{
		SPDXID:                "SPDXRef-Binary",
		Name:                  firstNonEmpty(bi.Path, in.Service),
		VersionInfo:           mainVersion,
		PackageFileName:       in.BinaryPath,
		DownloadLocation:      firstNonEmpty(in.Source, noAssertion),
		Checksums:             []Checksum{{"SHA256", in.BinarySHA256}},
		Comment:               buildComment(bi, in.BuildNote),
		PrimaryPackagePurpose: "APPLICATION",
	}
	if bi.Main.Path != "" {
		sub := strings.TrimPrefix(strings.TrimPrefix(bi.Path, bi.Main.Path), "/")
		ref := fmt.Sprintf("pkg:golang/%s@%s", bi.Main.Path, mainVersion)
		if sub != "" {
			ref += "#" + sub
		}
		binary.ExternalRefs = []ExternalRef{purl(ref)}
	}
	doc.Packages = append(doc.Packages, binary.withDefaults())
	rel("SPDXRef-Image", "CONTAINS", "SPDXRef-Binary")

	// The Go standard library and runtime.
	doc.Packages = append(doc.Packages, Package{
		SPDXID:           "SPDXRef-Go-stdlib",
		Name:             "stdlib",
		VersionInfo:      bi.GoVersion,
		DownloadLocation: "https://go.dev/dl/",
		Description:      "Go standard library and runtime, linked into the binary",
		ExternalRefs:     []ExternalRef{purl("pkg:golang/stdlib@" + bi.GoVersion)},
	}.withDefaults())
	rel("SPDXRef-Binary", "DEPENDS_ON", "SPDXRef-Go-stdlib")

	// Every module linked in, by path.
	deps := append([]*debug.Module(nil), bi.Deps...)
	sort.Slice(deps, func(i, j int) bool { return deps[i].Path < deps[j].Path })
	for i, m := range deps {
		mod := m
		comment := ""
		if m.Replace != nil {
			comment = fmt.Sprintf("replaced: %s %s => %s %s", m.Path, m.Version, m.Replace.Path, m.Replace.Version)
			mod = m.Replace
		}
		if mod.Sum != "" {
			if comment != "" {
				comment += "; "
			}
			comment += "go.sum " + mod.Sum
		}
		id := fmt.Sprintf("SPDXRef-Module-%d-%s", i+1, idSafe(m.Path))
		doc.Packages = append(doc.Packages, Package{
			SPDXID:           id,
			Name:             m.Path,
			VersionInfo:      mod.Version,
			DownloadLocation: proxyURL(mod.Path, mod.Version),
			Comment:          comment,
			ExternalRefs:     []ExternalRef{purl(fmt.Sprintf("pkg:golang/%s@%s", m.Path, mod.Version))},
		}.withDefaults())
		rel("SPDXRef-Binary", "DEPENDS_ON", id)
	}

	// Base files.
	for _, c := range in.Base {
		id := "SPDXRef-File-" + idSafe(c.ID)
		p := Package{
			SPDXID:           id,
			Name:             c.Name,
			VersionInfo:      c.Version,
			Supplier:         c.Supplier,
			DownloadLocation: firstNonEmpty(c.Download, noAssertion),
			Description:      c.Description,
		}
		if c.PURL != "" {
			p.ExternalRefs = []ExternalRef{purl(c.PURL)}
		}
		doc.Packages = append(doc.Packages, p.withDefaults())
		rel("SPDXRef-Image", "CONTAINS", id)
	}
	return doc, nil
}

func (p Package) withDefaults() Package {
	p.LicenseConcluded = firstNonEmpty(p.LicenseConcluded, noAssertion)
	p.LicenseDeclared = firstNonEmpty(p.LicenseDeclared, noAssertion)
	p.CopyrightText = firstNonEmpty(p.CopyrightText, noAssertion)
	return p
}

func purl(locator string) ExternalRef {
	return ExternalRef{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: locator}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// buildComment lists how the binary was built.
func buildComment(bi *debug.BuildInfo, note string) string {
	var parts []string
	if note != "" {
		parts = append(parts, note)
	}
	parts = append(parts, "built with "+bi.GoVersion)
	var settings []string
	for _, s := range bi.Settings {
		settings = append(settings, s.Key+"="+s.Value)
	}
	if len(settings) > 0 {
		parts = append(parts, "settings: "+strings.Join(settings, " "))
	}
	return strings.Join(parts, "; ")
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// idSafe turns s into the characters an SPDX identifier may hold.
func idSafe(s string) string {
	return strings.Trim(unsafeID.ReplaceAllString(s, "-"), "-")
}

// proxyURL is the module's zip on the Go module proxy (paths and versions
// case-encoded as the proxy protocol requires).
func proxyURL(path, version string) string {
	if version == "" {
		return noAssertion
	}
	return "https://proxy.golang.org/" + escape(path) + "/@v/" + escape(version) + ".zip"
}

func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Check verifies the structure of an SPDX JSON document: the version, the
// required fields, identifiers that are unique and well-formed, and
// relationships that point at elements of the document.
func Check(data []byte) (*Document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("spdx: %w", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXID != "SPDXRef-DOCUMENT" {
		return nil, fmt.Errorf("spdx: header %q %q %q", doc.SPDXVersion, doc.DataLicense, doc.SPDXID)
	}
	if doc.Name == "" || !strings.Contains(doc.DocumentNamespace, "://") {
		return nil, fmt.Errorf("spdx: name %q / namespace %q", doc.Name, doc.DocumentNamespace)
	}
	if _, err := time.Parse(time.RFC3339, doc.CreationInfo.Created); err != nil || len(doc.CreationInfo.Creators) == 0 {
		return nil, fmt.Errorf("spdx: creation info %+v", doc.CreationInfo)
	}
	validID := regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)
	ids := map[string]bool{"SPDXRef-DOCUMENT": true}
	for _, p := range doc.Packages {
		if !validID.MatchString(p.SPDXID) || ids[p.SPDXID] {
			return nil, fmt.Errorf("spdx: bad or duplicate id %q", p.SPDXID)
		}
		ids[p.SPDXID] = true
		if p.Name == "" || p.DownloadLocation == "" || p.LicenseConcluded == "" || p.LicenseDeclared == "" || p.CopyrightText == "" {
			return nil, fmt.Errorf("spdx: package %s lacks a required field", p.SPDXID)
		}
		for _, c := range p.Checksums {
			if c.Algorithm != "SHA256" || len(c.ChecksumValue) != 64 {
				return nil, fmt.Errorf("spdx: package %s: checksum %+v", p.SPDXID, c)
			}
		}
	}
	for _, d := range doc.DocumentDescribes {
		if !ids[d] {
			return nil, fmt.Errorf("spdx: describes unknown %s", d)
		}
	}
	for _, r := range doc.Relationships {
		if !ids[r.SPDXElementID] || !ids[r.RelatedSPDXElement] || r.RelationshipType == "" {
			return nil, fmt.Errorf("spdx: relationship %+v", r)
		}
	}
	return &doc, nil
}
