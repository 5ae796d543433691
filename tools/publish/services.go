package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// AllInOne is the service name of the all-in-one binary (cmd/tremolo).
const AllInOne = "tremolo"

// ServiceDir is a main package the publisher images.
type ServiceDir struct {
	Name     string // image name: the directory's base name
	Dir      string // relative to the repository root, slash-separated
	AllInOne bool
}

// Package is the Go package pattern of the service ("./services/user/cmd/user").
func (s ServiceDir) Package() string { return "./" + s.Dir }

// Label is its Bazel go_binary ("//services/user/cmd/user").
func (s ServiceDir) Label() string { return "//" + s.Dir }

// DiscoverServices lists every main package under services/*/cmd/* plus
// cmd/tremolo (the all-in-one), sorted by name.
func DiscoverServices(root string) ([]ServiceDir, error) {
	dirs, err := filepath.Glob(filepath.Join(root, "services", "*", "cmd", "*"))
	if err != nil {
		return nil, err
	}
	dirs = append(dirs, filepath.Join(root, "cmd", AllInOne))
	var out []ServiceDir
	names := map[string]string{}
	for _, dir := range dirs {
		isMain, err := isMainPackage(dir)
		if err != nil {
			return nil, err
		}
		if !isMain {
			continue
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return nil, err
		}
		rel = filepath.ToSlash(rel)
		s := ServiceDir{Name: filepath.Base(dir), Dir: rel, AllInOne: rel == "cmd/"+AllInOne}
		if other, dup := names[s.Name]; dup {
			return nil, fmt.Errorf("services: %s and %s would both be image %q", other, rel, s.Name)
		}
		names[s.Name] = rel
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		return nil, fmt.Errorf("services: no main package under %s/services/*/cmd/* or cmd/%s", root, AllInOne)
	}
	return out, nil
}

// isMainPackage reports whether dir holds non-test Go files of package main.
func isMainPackage(dir string) (bool, error) {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return false, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return false, err
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err != nil {
			return false, err
		}
		if pf.Name.Name == "main" {
			return true, nil
		}
	}
	return false, nil
}

// DeclaredServices reads tools/publish/services.bzl, the list Bazel builds
// (name -> label, for SERVICES and ALL_IN_ONE).
func DeclaredServices(bzl []byte) (services, allInOne map[string]string, err error) {
	entry := regexp.MustCompile(`"([^"]+)"\s*:\s*"(//[^"]+)"`)
	block := func(name string) (map[string]string, error) {
		re := regexp.MustCompile(`(?s)` + name + `\s*=\s*\{(.*?)\}`)
		m := re.FindSubmatch(bzl)
		if m == nil {
			return nil, fmt.Errorf("services.bzl: no %s = {...}", name)
		}
		out := map[string]string{}
		for _, e := range entry.FindAllSubmatch(m[1], -1) {
			out[string(e[1])] = string(e[2])
		}
		return out, nil
	}
	if services, err = block("SERVICES"); err != nil {
		return nil, nil, err
	}
	if allInOne, err = block("ALL_IN_ONE"); err != nil {
		return nil, nil, err
	}
	return services, allInOne, nil
}
