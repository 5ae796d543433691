package plugintest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/tremolo-dev/tremolo/generators/internal/options"
)

// TypeCheck runs gens on req and type-checks the Go code they generate,
// one Go package at a time, against the real packages it imports (the
// platform's, grpc, fx, prometheus): generated code that compiles against
// stale signatures fails here rather than in gen/.
//
// protoc-gen-go, protoc-gen-go-grpc and protoc-gen-grpc-gateway are not
// importable, so their output is stood in for by declarations with the same
// names and types: each enum and its value constants,
// <Service>_<Method>_FullMethodName, <Service>Server, <Service>Client,
// New<Service>Client, <Service>_ServiceDesc, and Register<Service>Handler for
// services with google.api.http bindings.
//
// Export data comes from `go list -export`, so the test is skipped where the
// go command is not available (under Bazel).
func TypeCheck(t *testing.T, req *pluginpb.CodeGeneratorRequest, gens ...Generator) {
	t.Helper()
	if os.Getenv("TEST_SRCDIR") != "" {
		t.Skip("type-checking needs the go command; skipped under Bazel")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("type-checking needs the go command:", err)
	}

	files := map[string]string{}
	for _, g := range append([]Generator{Stubs}, gens...) {
		for name, content := range Generate(t, req, g) {
			if strings.HasSuffix(name, ".go") {
				files[name] = content
			}
		}
	}

	// Group by directory and package clause.
	fset := token.NewFileSet()
	pkgs := map[string][]*ast.File{}
	imports := map[string]bool{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, files[name], parser.ParseComments)
		if err != nil {
			t.Fatalf("generated %s does not parse: %v", name, err)
		}
		key := path.Dir(name) + " " + f.Name.Name
		pkgs[key] = append(pkgs[key], f)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			imports[p] = true
		}
	}

	exports, err := exportData(goTool, imports)
	if err != nil {
		t.Fatal(err)
	}
	imp := importer.ForCompiler(fset, "gc", func(p string) (io.ReadCloser, error) {
		file, ok := exports[p]
		if !ok {
			return nil, fmt.Errorf("no export data for %q", p)
		}
		return os.Open(file)
	})
	keys := make([]string, 0, len(pkgs))
	for k := range pkgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		var errs []string
		conf := types.Config{Importer: imp, Error: func(err error) { errs = append(errs, err.Error()) }}
		_, _ = conf.Check("example.com/typecheck/"+strings.ReplaceAll(key, " ", "/"), fset, pkgs[key], nil)
		if len(errs) > 0 {
			t.Errorf("generated package %s does not type-check:\n%s", key, strings.Join(errs, "\n"))
		}
	}
}

// exportData returns the export data files of pkgs and their dependencies,
// built by the go command in the module's directory.
func exportData(goTool string, pkgs map[string]bool) (map[string]string, error) {
	args := []string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}
	for p := range pkgs {
		args = append(args, p)
	}
	sort.Strings(args[5:])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	exports := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		p, file, ok := strings.Cut(sc.Text(), "\t")
		if ok && file != "" {
			exports[p] = filepath.Clean(file)
		}
	}
	return exports, sc.Err()
}

// Stubs is a Generator standing in for protoc-gen-go, protoc-gen-go-grpc
// and protoc-gen-grpc-gateway in TypeCheck: <file>.stubs.pb.go declares the
// identifiers Tremolo's generated code uses, with their real types.
func Stubs() (protogen.Options, func(*protogen.Plugin) error) {
	return protogen.Options{}, func(gen *protogen.Plugin) error {
		r := options.NewReader(gen)
		grpcPkg := protogen.GoImportPath("google.golang.org/grpc")
		runtimePkg := protogen.GoImportPath("github.com/grpc-ecosystem/grpc-gateway/v2/runtime")
		for _, f := range gen.Files {
			if !f.Generate {
				continue
			}
			g := gen.NewGeneratedFile(f.GeneratedFilenamePrefix+".stubs.pb.go", f.GoImportPath)
			g.P("// Stand-ins for protoc-gen-go, protoc-gen-go-grpc and protoc-gen-grpc-gateway output.")
			g.P()
			g.P("package ", f.GoPackageName)
			g.P()
			for _, e := range options.AllEnums(f) {
				g.P("type ", e.GoIdent, " int32")
				for _, v := range e.Values {
					g.P("const ", v.GoIdent, " ", e.GoIdent, " = ", v.Desc.Number())
				}
			}
			services, err := r.Services(f)
			if err != nil {
				return err
			}
			for _, s := range services {
				name := s.Proto.GoName
				for _, m := range s.Methods {
					g.P("const ", name, "_", m.Proto.GoName, "_FullMethodName = ", strconv.Quote(m.FullMethod))
				}
				g.P("type ", name, "Client interface{ isClient() }")
				g.P("func New", name, "Client(cc ", grpcPkg.Ident("ClientConnInterface"), ") ", name, "Client { return nil }")
				g.P("type ", name, "Server interface{ isServer() }")
				g.P("var ", name, "_ServiceDesc = ", grpcPkg.Ident("ServiceDesc"), "{ServiceName: ", strconv.Quote(s.FullName()), "}")
				if s.HasHTTP() {
					g.P("func Register", name, "Handler(ctx ", protogen.GoImportPath("context").Ident("Context"), ", mux *", runtimePkg.Ident("ServeMux"),
						", conn *", grpcPkg.Ident("ClientConn"), ") error { return nil }")
				}
			}
		}
		return nil
	}
}
