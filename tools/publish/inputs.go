package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/tremolo-dev/tremolo/tools/publish/oci"
)

// MainModule is the repository's Go module.
const MainModule = "github.com/tremolo-dev/tremolo"

// Binary is one service binary for one platform.
type Binary struct {
	Path     string // file on disk
	Platform oci.Platform
	// Build is its module information for the SBOM; BuildNote says where
	// it came from.
	Build     *debug.BuildInfo
	BuildNote string
}

// Service is one service with its binaries.
type Service struct {
	Name       string
	ImportPath string
	AllInOne   bool
	Binaries   map[oci.Platform]*Binary
}

// Inputs is everything the images are made of.
type Inputs struct {
	Services  []*Service
	ZoneInfo  string // path of a Go SDK's lib/time/zoneinfo.zip
	TZVersion string // tz database release in it, e.g. "2025b", if known
	SDK       string // Go version of that SDK, e.g. "go1.26.8"
	Builder   string // "bazel" or "go"
	// ModuleVersions maps module path -> version, for base components.
	ModuleVersions map[string]string
}

// --- Bazel: binaries built by //tools/publish:binaries ----------------------

// bazelManifest is what image_binaries (defs.bzl) writes.
type bazelManifest struct {
	Services []struct {
		Name       string `json:"name"`
		Label      string `json:"label"`
		ImportPath string `json:"importpath"`
		AllInOne   bool   `json:"allinone"`
		Binaries   map[string]struct {
			Path string `json:"path"`
			Deps string `json:"deps"`
		} `json:"binaries"`
	} `json:"services"`
	DepsBzl  string `json:"deps_bzl"`
	ZoneInfo string `json:"zoneinfo"`
}

// bazelManifestPath is the manifest's path in the runfiles.
const bazelManifestPath = "tools/publish/binaries.json"

// runfilesDirs are where Bazel puts a binary's or a test's runfiles.
func runfilesDirs() []string {
	var dirs []string
	for _, env := range []string{"RUNFILES_DIR", "TEST_SRCDIR"} {
		if d := os.Getenv(env); d != "" {
			dirs = append(dirs, d)
		}
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, exe+".runfiles")
	}
	if wd, err := os.Getwd(); err == nil {
		// `bazel run` starts binaries in <runfiles>/<workspace>.
		dirs = append(dirs, filepath.Dir(wd))
	}
	return dirs
}

// findRunfile returns the path of a runfile given by its short path
// ("tools/publish/x" or, for other repositories, "../go_sdk/x").
func findRunfile(short string) (string, bool) {
	for _, dir := range runfilesDirs() {
		p := filepath.Join(dir, "tremolo", filepath.FromSlash(short))
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// BazelAvailable reports whether this process runs with the Bazel-built
// binaries in its runfiles (under `bazel run //:publish` or `bazel test`).
func BazelAvailable() bool {
	_, ok := findRunfile(bazelManifestPath)
	return ok
}

// LoadBazel reads the Bazel manifest and every binary's dependency list.
func LoadBazel(platforms []oci.Platform) (*Inputs, error) {
	mpath, ok := findRunfile(bazelManifestPath)
	if !ok {
		return nil, fmt.Errorf("bazel: %s not in the runfiles: run through `bazel run //:publish` (or use --build=go)", bazelManifestPath)
	}
	raw, err := os.ReadFile(mpath)
	if err != nil {
		return nil, err
	}
	var m bazelManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("bazel: %s: %w", mpath, err)
	}
	resolve := func(short string) (string, error) {
		p, ok := findRunfile(short)
		if !ok {
			return "", fmt.Errorf("bazel: runfile %s missing", short)
		}
		return p, nil
	}
	depsPath, err := resolve(m.DepsBzl)
	if err != nil {
		return nil, err
	}
	depsBzl, err := os.ReadFile(depsPath)
	if err != nil {
		return nil, err
	}
	repos := ParseDepsBzl(depsBzl)
	in := &Inputs{Builder: "bazel", ModuleVersions: map[string]string{}}
	for _, r := range repos {
		in.ModuleVersions[r.Path] = r.Version
	}
	if in.ZoneInfo, err = resolve(m.ZoneInfo); err != nil {
		return nil, err
	}
	for _, s := range m.Services {
		svc := &Service{Name: s.Name, ImportPath: s.ImportPath, AllInOne: s.AllInOne, Binaries: map[oci.Platform]*Binary{}}
		for _, p := range platforms {
			b, ok := s.Binaries[p.String()]
			if !ok {
				return nil, fmt.Errorf("bazel: no %s binary of %s (defs.bzl PLATFORMS)", p, s.Name)
			}
			path, err := resolve(b.Path)
			if err != nil {
				return nil, err
			}
			depsFile, err := resolve(b.Deps)
			if err != nil {
				return nil, err
			}
			bi, err := bazelBuildInfo(path, depsFile, s.ImportPath, p, repos)
			if err != nil {
				return nil, fmt.Errorf("bazel: %s %s: %w", s.Name, p, err)
			}
			svc.Binaries[p] = &Binary{
				Path: path, Platform: p, Build: bi,
				BuildNote: "built by Bazel (rules_go, pure, -w); module list from the Bazel dependency graph and deps.bzl, since rules_go 0.34 embeds no module information",
			}
		}
		in.Services = append(in.Services, svc)
		for _, b := range svc.Binaries {
			in.SDK = b.Build.GoVersion // the zone data comes from the same @go_sdk
		}
	}
	sort.Slice(in.Services, func(i, j int) bool { return in.Services[i].Name < in.Services[j].Name })
	return in, nil
}

// Repo is one go_repository of deps.bzl.
type Repo struct {
	Name, Path, Version, Sum string
}

// ParseDepsBzl reads the go_repository rules of deps.bzl (written by
// gazelle update-repos: one attribute per line).
func ParseDepsBzl(data []byte) map[string]Repo {
	rule := regexp.MustCompile(`(?s)go_repository\((.*?)\n\s*\)`)
	attr := regexp.MustCompile(`(?m)^\s*(name|importpath|version|sum)\s*=\s*"([^"]*)"`)
	out := map[string]Repo{}
	for _, m := range rule.FindAllSubmatch(data, -1) {
		var r Repo
		for _, a := range attr.FindAllSubmatch(m[1], -1) {
			switch string(a[1]) {
			case "name":
				r.Name = string(a[2])
			case "importpath":
				r.Path = string(a[2])
			case "version":
				r.Version = string(a[2])
			case "sum":
				r.Sum = string(a[2])
			}
		}
		if r.Name != "" {
			out[r.Name] = r
		}
	}
	return out
}

// bazelBuildInfo is the build info of a Bazel-built binary: the Go version
// from the binary itself, modules from the packages linked in (deps file:
// "importpath<TAB>repository" lines; the main repository is empty).
func bazelBuildInfo(binary, depsFile, mainPkg string, p oci.Platform, repos map[string]Repo) (*debug.BuildInfo, error) {
	fromBinary, err := buildinfo.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(depsFile)
	if err != nil {
		return nil, err
	}
	mods := map[string]*debug.Module{}
	var unknown []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		importPath, repo, _ := strings.Cut(sc.Text(), "\t")
		if importPath == "" || repo == "" {
			continue // the main module's own packages
		}
		r, ok := repos[repo]
		if !ok {
			unknown = append(unknown, repo)
			continue
		}
		if _, ok := mods[r.Path]; !ok {
			mods[r.Path] = &debug.Module{Path: r.Path, Version: r.Version, Sum: r.Sum}
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("repositories not in deps.bzl: %s", strings.Join(unknown, ", "))
	}
	bi := &debug.BuildInfo{
		GoVersion: fromBinary.GoVersion,
		Path:      mainPkg,
		Main:      debug.Module{Path: MainModule, Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "-compiler", Value: "gc"},
			{Key: "-ldflags", Value: "-s -w"},
			{Key: "-trimpath", Value: "true"},
			{Key: "CGO_ENABLED", Value: "0"},
			{Key: "GOARCH", Value: p.Arch},
			{Key: "GOOS", Value: p.OS},
			{Key: "builder", Value: "bazel rules_go"},
		},
	}
	for _, path := range oci.SortedKeys(mods) {
		bi.Deps = append(bi.Deps, mods[path])
	}
	return bi, nil
}

// tzVersion reads the tz release from a Go SDK's lib/time/update.bash.
func tzVersion(updateBash string) string {
	data, err := os.ReadFile(updateBash)
	if err != nil {
		return ""
	}
	m := regexp.MustCompile(`(?m)^DATA=(\S+)`).FindSubmatch(data)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// --- go build: binaries built here -------------------------------------------

// GoBuildFlags are the flags of go build; with CGO_ENABLED=0 they give the
// same kind of binary as the Bazel build (pure, static, no DWARF, no symbol
// table: Go's own tables keep stack traces and profiles symbolised).
var GoBuildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w"}

// LoadGo builds every service in root with go build for every platform
// into binDir (<binDir>/<os>_<arch>/<service>), then reads them (LoadDir).
func LoadGo(ctx context.Context, root, binDir string, services []ServiceDir, platforms []oci.Platform, logf func(string, ...any)) (*Inputs, error) {
	for _, p := range platforms {
		dir := filepath.Join(binDir, p.OS+"_"+p.Arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		args := append([]string{"build"}, GoBuildFlags...)
		args = append(args, "-o", dir+string(filepath.Separator))
		for _, s := range services {
			args = append(args, s.Package())
		}
		logf("go build %s (%d binaries)", p, len(services))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		cmd.Env = append(withoutEnv(os.Environ(), "GOFLAGS", "CGO_ENABLED", "GOOS", "GOARCH"),
			"CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build for %s: %v\n%s", p, err, out)
		}
	}
	var names []string
	for _, s := range services {
		names = append(names, s.Name)
	}
	in, err := LoadDir(ctx, binDir, platforms, names)
	if err != nil {
		return nil, err
	}
	in.Builder = "go"
	return in, nil
}

// LoadDir reads binaries built by go build (with module information) from
// <binDir>/<os>_<arch>/<service>: every service found there, or names.
func LoadDir(ctx context.Context, binDir string, platforms []oci.Platform, names []string) (*Inputs, error) {
	goroot, err := goEnv(ctx, binDir, "GOROOT")
	if err != nil {
		return nil, err
	}
	sdk, err := goEnv(ctx, binDir, "GOVERSION")
	if err != nil {
		return nil, err
	}
	in := &Inputs{
		Builder:        "dir",
		SDK:            sdk,
		ZoneInfo:       filepath.Join(goroot, "lib", "time", "zoneinfo.zip"),
		TZVersion:      tzVersion(filepath.Join(goroot, "lib", "time", "update.bash")),
		ModuleVersions: map[string]string{},
	}
	if len(names) == 0 && len(platforms) > 0 {
		entries, err := os.ReadDir(filepath.Join(binDir, platforms[0].OS+"_"+platforms[0].Arch))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	for _, name := range names {
		svc := &Service{Name: name, Binaries: map[oci.Platform]*Binary{}}
		for _, p := range platforms {
			path := filepath.Join(binDir, p.OS+"_"+p.Arch, name)
			bi, err := buildinfo.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if bi.Main.Path != MainModule || !strings.HasPrefix(bi.Path, MainModule+"/") {
				return nil, fmt.Errorf("%s: built from %s (%s), not a %s main package with module information", path, bi.Path, bi.Main.Path, MainModule)
			}
			if bi.Main.Path == MainModule && bi.Path == MainModule+"/cmd/"+AllInOne {
				svc.AllInOne = true
			}
			svc.ImportPath = bi.Path
			svc.Binaries[p] = &Binary{Path: path, Platform: p, Build: bi, BuildNote: "built by go build"}
			for _, m := range bi.Deps {
				in.ModuleVersions[m.Path] = m.Version
			}
		}
		in.Services = append(in.Services, svc)
	}
	if len(in.Services) == 0 {
		return nil, fmt.Errorf("no binaries in %s", binDir)
	}
	return in, nil
}

func goEnv(ctx context.Context, dir, key string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", key)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", key, err)
	}
	v := strings.TrimSpace(string(out))
	if v == "" {
		return "", errors.New("go env " + key + ": empty")
	}
	return v, nil
}

func withoutEnv(env []string, keys ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, x := range keys {
			if k == x {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// FindRoot returns the repository root: dir or the nearest parent holding
// go.mod of MainModule.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			regexp.MustCompile(`(?m)^module\s+`+regexp.QuoteMeta(MainModule)+`\s*$`).Match(data) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of %s in %s or its parents (use --root)", MainModule, dir)
		}
	}
}
