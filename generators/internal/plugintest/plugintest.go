// Package plugintest runs Tremolo's protoc plugins in-process for tests:
// it compiles .proto files with protocompile (no protoc, no buf, no
// network), builds the CodeGeneratorRequest buf would send, runs a
// generator on it, compares the output with golden files and type-checks
// generated Go code against the real platform packages.
//
// Imports resolve first from the test's own sources (a map, or a testdata
// directory relative to the package directory, which is the working
// directory under go test and Bazel alike), then from the descriptors linked
// into the test binary: google/protobuf/*, google/api/annotations.proto,
// google/rpc/code.proto and tremolo/options/v1/options.proto (the committed
// gen/tremolo/options/v1). The generators themselves never import that
// package; only their tests do.
package plugintest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	// Descriptors the test protos import, registered in GlobalFiles.
	_ "google.golang.org/genproto/googleapis/api/annotations"
	_ "google.golang.org/genproto/googleapis/rpc/code"
	_ "google.golang.org/protobuf/types/known/durationpb"

	_ "github.com/tremolo-dev/tremolo/gen/tremolo/options/v1"
)

// Update rewrites golden files instead of comparing with them:
// go test ./generators/... -update
var Update = flag.Bool("update", false, "rewrite the golden files of generator tests")

// Sources are the .proto files of a test, beside the repository's.
type Sources struct {
	// Files maps import paths to contents; looked up first.
	Files map[string]string
	// Dir is a directory whose files are imported by their path relative
	// to it (usually "testdata").
	Dir string
}

// Request compiles files (import paths) and returns the request a buf
// plugin gets to generate them: every file and its transitive imports in
// ProtoFile, dependencies first. A compilation error fails the test.
func Request(t testing.TB, src Sources, parameter string, files ...string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	req, err := BuildRequest(src, parameter, files...)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// BuildRequest is Request returning the error.
func BuildRequest(src Sources, parameter string, files ...string) (*pluginpb.CodeGeneratorRequest, error) {
	resolve := func(path string) (protocompile.SearchResult, error) {
		if s, ok := src.Files[path]; ok {
			return protocompile.SearchResult{Source: strings.NewReader(s)}, nil
		}
		if src.Dir != "" {
			if b, err := os.ReadFile(filepath.Join(src.Dir, filepath.FromSlash(path))); err == nil {
				return protocompile.SearchResult{Source: bytes.NewReader(b)}, nil
			}
		}
		fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
		if err != nil {
			return protocompile.SearchResult{}, fmt.Errorf("%s: %w", path, err)
		}
		return protocompile.SearchResult{Desc: fd}, nil
	}
	c := protocompile.Compiler{
		Resolver:       protocompile.ResolverFunc(resolve),
		SourceInfoMode: protocompile.SourceInfoStandard,
		Reporter:       reporter.NewReporter(nil, nil),
	}
	compiled, err := c.Compile(context.Background(), files...)
	if err != nil {
		return nil, fmt.Errorf("plugintest: compiling %v: %w", files, err)
	}

	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files}
	if parameter != "" {
		req.Parameter = proto.String(parameter)
	}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			add(imps.Get(i).FileDescriptor)
		}
		var fdp *descriptorpb.FileDescriptorProto
		if r, ok := fd.(linker.Result); ok {
			fdp = r.FileDescriptorProto()
		} else {
			fdp = protodesc.ToFileDescriptorProto(fd)
		}
		req.ProtoFile = append(req.ProtoFile, fdp)
	}
	for _, f := range compiled {
		add(f)
	}
	return req, nil
}

// Generator is a plugin as its package exposes it: protogen options (with
// its ParamFunc) and the function Run calls.
type Generator func() (protogen.Options, func(*protogen.Plugin) error)

// Run runs a generator on req in-process, as protogen.Options.Run would,
// and returns its response.
func Run(req *pluginpb.CodeGeneratorRequest, g Generator) *pluginpb.CodeGeneratorResponse {
	opts, f := g()
	gen, err := opts.New(req)
	if err != nil {
		return &pluginpb.CodeGeneratorResponse{Error: proto.String(err.Error())}
	}
	if err := f(gen); err != nil {
		gen.Error(err)
	}
	return gen.Response()
}

// Generate runs g on req and fails the test if g reports an error.
func Generate(t testing.TB, req *pluginpb.CodeGeneratorRequest, g Generator) map[string]string {
	t.Helper()
	resp := Run(req, g)
	if resp.Error != nil {
		t.Fatalf("generator failed: %s", resp.GetError())
	}
	out := map[string]string{}
	for _, f := range resp.File {
		if _, dup := out[f.GetName()]; dup {
			t.Fatalf("generator wrote %s twice", f.GetName())
		}
		out[f.GetName()] = f.GetContent()
	}
	return out
}

// GenerateError runs g on req and returns the error it reports, failing
// the test when it reports none.
func GenerateError(t testing.TB, req *pluginpb.CodeGeneratorRequest, g Generator) string {
	t.Helper()
	resp := Run(req, g)
	if resp.Error == nil {
		names := make([]string, 0, len(resp.File))
		for _, f := range resp.File {
			names = append(names, f.GetName())
		}
		t.Fatalf("generator succeeded (files %v), want an error", names)
	}
	return resp.GetError()
}

// GoldenName is the golden file of a generated file: its path with '/'
// replaced by '_', plus ".golden".
func GoldenName(generated string) string {
	return strings.ReplaceAll(generated, "/", "_") + ".golden"
}

// Golden compares files (generated name -> content) with the golden files
// in dir: every file must have its golden file and every golden file must
// have been generated. With -update it rewrites dir to match instead.
func Golden(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	want := map[string]string{}
	for name, content := range files {
		want[GoldenName(name)] = content
	}
	if *Update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(dir, "*.golden"))
		for _, p := range old {
			if _, ok := want[filepath.Base(p)]; !ok {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		}
		for name, content := range want {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	have := map[string]bool{}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".golden") {
			have[e.Name()] = true
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !have[name] {
			t.Errorf("generated %s has no golden file %s (run go test with -update)", strings.TrimSuffix(name, ".golden"), filepath.Join(dir, name))
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := want[name]; got != string(b) {
			t.Errorf("%s differs from its golden file (run go test with -update to accept):\n%s", name, Diff(string(b), got))
		}
	}
	for name := range have {
		if _, ok := want[name]; !ok {
			t.Errorf("golden file %s was not generated (run go test with -update to remove it)", filepath.Join(dir, name))
		}
	}
}

// Diff returns a line diff of want and got: the first differing line and a
// little context, enough to find a golden mismatch.
func Diff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(wl) && i < len(gl) && wl[i] == gl[i] {
		i++
	}
	var b strings.Builder
	from := max(0, i-3)
	for j := from; j < i; j++ {
		fmt.Fprintf(&b, "  %4d  %s\n", j+1, wl[j])
	}
	for j := i; j < min(len(wl), i+5); j++ {
		fmt.Fprintf(&b, "- %4d  %s\n", j+1, wl[j])
	}
	for j := i; j < min(len(gl), i+5); j++ {
		fmt.Fprintf(&b, "+ %4d  %s\n", j+1, gl[j])
	}
	return b.String()
}
