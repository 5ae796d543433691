package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// servicesBzl reads tools/publish/services.bzl (a runfile under Bazel).
func servicesBzl(t *testing.T) (data []byte, path string) {
	t.Helper()
	path = "services.bzl"
	if p, ok := findRunfile("tools/publish/services.bzl"); ok {
		path = p
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, path
}

func declaredNames(t *testing.T) []string {
	t.Helper()
	data, _ := servicesBzl(t)
	services, allInOne, err := DeclaredServices(data)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range services {
		names = append(names, n)
	}
	for n := range allInOne {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestDeclaredServicesMatchTree: services.bzl, what Bazel builds and
// `bazel run //:publish` images, lists exactly the main packages under
// services/*/cmd/* plus cmd/tremolo, so a new service cannot be left out.
func TestDeclaredServicesMatchTree(t *testing.T) {
	data, path := servicesBzl(t)
	services, allInOne, err := DeclaredServices(data)
	if err != nil {
		t.Fatal(err)
	}
	// The source tree: under go test the repository; under bazel test the
	// runfile is a symlink into the workspace (processwrapper sandbox).
	root, err := FindRoot(".")
	if err != nil {
		real, lerr := filepath.EvalSymlinks(path)
		if lerr != nil {
			t.Skipf("no source tree to compare with: %v", err)
		}
		if root, err = FindRoot(filepath.Dir(real)); err != nil {
			t.Skipf("no source tree to compare with: %v", err)
		}
	}
	dirs, err := DiscoverServices(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d main packages in %s, %d services + %d all-in-one in services.bzl", len(dirs), root, len(services), len(allInOne))
	found := map[string]string{}
	for _, d := range dirs {
		found[d.Name] = d.Label()
		want := services
		if d.AllInOne {
			want = allInOne
		}
		if label, ok := want[d.Name]; !ok {
			t.Errorf("%s (%s) is not in tools/publish/services.bzl: add %q: %q", d.Dir, d.Name, d.Name, d.Label())
		} else if label != d.Label() {
			t.Errorf("services.bzl: %s is %s, the tree has %s", d.Name, label, d.Label())
		}
	}
	for _, m := range []map[string]string{services, allInOne} {
		for n, label := range m {
			if _, ok := found[n]; !ok {
				t.Errorf("services.bzl lists %s (%s), which is not a main package in the tree", n, label)
			}
		}
	}
	if len(allInOne) != 1 || allInOne[AllInOne] != "//cmd/"+AllInOne {
		t.Errorf("ALL_IN_ONE = %v", allInOne)
	}
}

func TestDiscoverServices(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("services/user/cmd/user/main.go", "package main\nfunc main() {}\n")
	write("services/user/cmd/userlib/lib.go", "package userlib\n")
	write("services/video/cmd/video/main.go", "// Command video.\npackage main\n")
	write("services/video/cmd/tool/x_test.go", "package main\n")
	write("cmd/tremolo/main.go", "package main\n")
	dirs, err := DiscoverServices(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range dirs {
		got = append(got, d.Name+"="+d.Label())
		if d.AllInOne != (d.Name == "tremolo") {
			t.Errorf("%s: all-in-one %v", d.Name, d.AllInOne)
		}
	}
	if strings.Join(got, " ") != "tremolo=//cmd/tremolo user=//services/user/cmd/user video=//services/video/cmd/video" {
		t.Fatalf("found %v", got)
	}
	write("services/other/cmd/user/main.go", "package main\n")
	if _, err := DiscoverServices(root); err == nil {
		t.Fatal("two services named user accepted")
	}
}

func TestParseDepsBzl(t *testing.T) {
	repos := ParseDepsBzl([]byte(`
def go_dependencies():
    go_repository(
        name = "org_uber_go_fx",
        build_file_proto_mode = "disable_global",
        importpath = "go.uber.org/fx",
        sum = "h1:abc=",
        version = "v1.24.0",
    )
    go_repository(
        name = "com_github_x_y",
        importpath = "github.com/x/y",
        version = "v0.1.0",
    )
`))
	if r := repos["org_uber_go_fx"]; r.Path != "go.uber.org/fx" || r.Version != "v1.24.0" || r.Sum != "h1:abc=" {
		t.Errorf("fx: %+v", r)
	}
	if r := repos["com_github_x_y"]; r.Path != "github.com/x/y" || r.Version != "v0.1.0" {
		t.Errorf("x/y: %+v", r)
	}
	// The repository's own deps.bzl has the modules the images link.
	path := "../../deps.bzl"
	if p, ok := findRunfile("deps.bzl"); ok {
		path = p
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	real := ParseDepsBzl(data)
	if r := real["org_golang_google_grpc"]; r.Path != "google.golang.org/grpc" || !strings.HasPrefix(r.Version, "v1.") {
		t.Errorf("deps.bzl grpc: %+v", r)
	}
}

func TestFlags(t *testing.T) {
	c, err := parseFlags([]string{"--repo", "r/x", "--tag", "a,b", "--tag", "c", "--created", "1700000000", "--platforms", "linux/arm64"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Tags, ",") != "a,b,c" || c.Created.Unix() != 1700000000 || len(c.Platforms) != 1 || c.Platforms[0].Arch != "arm64" {
		t.Fatalf("%+v", c)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "86400")
	if c, _ := parseFlags(nil, os.Stderr); c.Created.Unix() != 86400 || strings.Join(c.Tags, ",") != "latest" || len(c.Platforms) != 2 {
		t.Fatalf("defaults %+v", c)
	}
	for _, bad := range [][]string{{"--build", "docker"}, {"--build", "dir"}, {"--created", "tuesday"}, {"--platforms", "arm64"}, {"extra"}} {
		if _, err := parseFlags(bad, ioDiscard{}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }
