package sbom

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func input() Input {
	return Input{
		Service: "user", Platform: "linux/arm64",
		Image:        "sha256:" + strings.Repeat("a", 64),
		BinaryPath:   "/usr/local/bin/user",
		BinarySHA256: strings.Repeat("b", 64),
		Build: &debug.BuildInfo{
			GoVersion: "go1.26.8",
			Path:      "github.com/tremolo-dev/tremolo/services/user/cmd/user",
			Main:      debug.Module{Path: "github.com/tremolo-dev/tremolo", Version: "(devel)"},
			Deps: []*debug.Module{
				{Path: "go.uber.org/fx", Version: "v1.24.0", Sum: "h1:fx="},
				{Path: "github.com/BurntSushi/toml", Version: "v1.4.0"},
				{Path: "example.com/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/new", Version: "v1.1.0", Sum: "h1:new="}},
			},
			Settings: []debug.BuildSetting{{Key: "CGO_ENABLED", Value: "0"}, {Key: "GOARCH", Value: "arm64"}},
		},
		BuildNote: "built by go build",
		Revision:  "abc123",
		Source:    "https://github.com/tremolo-dev/tremolo",
		Created:   time.Unix(0, 0),
		Base:      []Component{{ID: "ca-certificates", Name: "ca-certificates", Version: "v0.1.0", PURL: "pkg:golang/x@v0.1.0"}},
		Namespace: "https://github.com/tremolo-dev/tremolo/spdx",
	}
}

func TestGenerate(t *testing.T) {
	data, err := Generate(input())
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Generate(input())
	if !bytes.Equal(data, again) {
		t.Fatal("same input, different documents")
	}
	doc, err := Check(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if doc.CreationInfo.Created != "1970-01-01T00:00:00Z" || !strings.HasSuffix(doc.DocumentNamespace, "/user/linux-arm64/"+strings.Repeat("b", 64)) {
		t.Errorf("header %+v", doc)
	}
	byName := map[string]Package{}
	for _, p := range doc.Packages {
		byName[p.Name] = p
	}
	bin := byName["github.com/tremolo-dev/tremolo/services/user/cmd/user"]
	if bin.VersionInfo != "abc123" || bin.Checksums[0].ChecksumValue != strings.Repeat("b", 64) || !strings.Contains(bin.Comment, "CGO_ENABLED=0") {
		t.Errorf("binary %+v", bin)
	}
	if got := bin.ExternalRefs[0].ReferenceLocator; got != "pkg:golang/github.com/tremolo-dev/tremolo@abc123#services/user/cmd/user" {
		t.Errorf("binary purl %s", got)
	}
	if p := byName["stdlib"]; p.VersionInfo != "go1.26.8" {
		t.Errorf("stdlib %+v", p)
	}
	if p := byName["github.com/BurntSushi/toml"]; p.DownloadLocation != "https://proxy.golang.org/github.com/!burnt!sushi/toml/@v/v1.4.0.zip" {
		t.Errorf("case-encoded proxy URL: %s", p.DownloadLocation)
	}
	if p := byName["example.com/old"]; p.VersionInfo != "v1.1.0" || !strings.Contains(p.Comment, "replaced") || !strings.Contains(p.Comment, "h1:new=") {
		t.Errorf("replaced module %+v", p)
	}
	if p := byName["ca-certificates"]; p.SPDXID != "SPDXRef-File-ca-certificates" {
		t.Errorf("base component %+v", p)
	}
	// Every module depends from the binary; the image contains binary and base.
	rels := map[string]int{}
	for _, r := range doc.Relationships {
		rels[r.SPDXElementID+" "+r.RelationshipType]++
	}
	if rels["SPDXRef-Binary DEPENDS_ON"] != 4 || rels["SPDXRef-Image CONTAINS"] != 2 || rels["SPDXRef-DOCUMENT DESCRIBES"] != 1 {
		t.Errorf("relationships %v", rels)
	}
	// Modules are listed sorted by path, whatever the input order.
	var names []string
	for _, p := range doc.Packages {
		if strings.HasPrefix(p.SPDXID, "SPDXRef-Module-") {
			names = append(names, p.Name)
		}
	}
	if strings.Join(names, " ") != "example.com/old github.com/BurntSushi/toml go.uber.org/fx" {
		t.Errorf("module order %v", names)
	}
}

func TestGenerateNeedsInput(t *testing.T) {
	in := input()
	in.Build = nil
	if _, err := Generate(in); err == nil {
		t.Error("no build info accepted")
	}
	in = input()
	in.Image = ""
	if _, err := Generate(in); err == nil {
		t.Error("no image digest accepted")
	}
}

func TestCheckRejects(t *testing.T) {
	good, _ := Generate(input())
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	for name, data := range map[string][]byte{
		"version":      mutate(func(m map[string]any) { m["spdxVersion"] = "SPDX-2.2" }),
		"unknown key":  mutate(func(m map[string]any) { m["bogus"] = 1 }),
		"dangling":     mutate(func(m map[string]any) { m["documentDescribes"] = []string{"SPDXRef-Nope"} }),
		"bad created":  mutate(func(m map[string]any) { m["creationInfo"].(map[string]any)["created"] = "yesterday" }),
		"duplicate id": mutate(func(m map[string]any) { p := m["packages"].([]any); m["packages"] = append(p, p[0]) }),
	} {
		if _, err := Check(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
