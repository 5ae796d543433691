// Package metricsgen is protoc-gen-go-metrics: for each service it writes
// <file>_metrics.pb.go, declaring <Service>Metrics (one
// *metrics.ServerMethod per method, created up front), its constructor, a
// Lookup over the method names protoc-gen-go-grpc declares, and the
// service's metrics interceptors.
//
// The handled counter is pre-created for every error (code and reason)
// declared by the request's files in the service's Go package: with buf's
// default strategy (directory), every .proto file of the service's
// directory.
package metricsgen

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/compiler/protogen"

	"github.com/tremolo-dev/tremolo/generators/internal/genutil"
	"github.com/tremolo-dev/tremolo/generators/internal/naming"
	"github.com/tremolo-dev/tremolo/generators/internal/options"
)

// Name is the plugin's name, as generated files credit it.
const Name = "protoc-gen-go-metrics"

const (
	metricsPackage    = protogen.GoImportPath("github.com/tremolo-dev/tremolo/platform/metrics")
	rpcPackage        = protogen.GoImportPath("github.com/tremolo-dev/tremolo/platform/rpc")
	prometheusPackage = protogen.GoImportPath("github.com/prometheus/client_golang/prometheus")
	grpcPackage       = protogen.GoImportPath("google.golang.org/grpc")
	codesPackage      = protogen.GoImportPath("google.golang.org/grpc/codes")
)

// Plugin returns the plugin's protogen options and generator function; main
// passes them to protogen.Options.Run, tests run them in-process.
func Plugin() (protogen.Options, func(*protogen.Plugin) error) {
	return protogen.Options{ParamFunc: func(name, _ string) error {
		return fmt.Errorf("%s: unknown parameter %q (it takes none)", Name, name)
	}}, generate
}

// reserved are the methods of <Service>Metrics, which no field may shadow.
var reserved = map[string]bool{"Lookup": true, "UnaryServerInterceptor": true, "StreamServerInterceptor": true}

// errorLabel is a code/reason pair of the handled counter.
type errorLabel struct {
	code   string // the codes constant's name
	reason string
}

func generate(gen *protogen.Plugin) error {
	genutil.Setup(gen)
	r := options.NewReader(gen)
	var probs options.Problems
	type packageLabels struct {
		labels []errorLabel
		err    error
	}
	labels := map[protogen.GoImportPath]packageLabels{}
	for _, f := range genutil.Files(gen) {
		services, err := r.Services(f)
		if err != nil {
			probs.Add(err)
			continue
		}
		if len(services) == 0 {
			continue
		}
		for _, s := range services {
			for _, m := range s.Methods {
				if reserved[m.Proto.GoName] {
					probs.Add(&options.Error{File: f.Desc.Path(), Kind: options.KindMethod, Name: string(m.Proto.Desc.FullName()),
						Problem: fmt.Sprintf("its field %sMetrics.%s would clash with the method of the same name; rename the RPC", s.Proto.GoName, m.Proto.GoName)})
				}
			}
		}
		pl, ok := labels[f.GoImportPath]
		if !ok {
			pl.labels, pl.err = packageErrors(gen, r, f.GoImportPath)
			labels[f.GoImportPath] = pl
			probs.Add(pl.err) // reported once per package
		}
		if probs.Len() == 0 {
			writeFile(gen, f, services, pl.labels)
		}
	}
	return probs.Err()
}

// packageErrors returns the code/reason of every error declared by the
// request's files in Go package pkg, without repeats, in declaration order.
func packageErrors(gen *protogen.Plugin, r *options.Reader, pkg protogen.GoImportPath) ([]errorLabel, error) {
	var out []errorLabel
	seen := map[errorLabel]bool{}
	for _, f := range gen.Files {
		if f.GoImportPath != pkg {
			continue
		}
		enums, err := r.ErrorEnums(f)
		if err != nil {
			return nil, err
		}
		for _, e := range enums {
			for _, v := range e.Values {
				l := errorLabel{code: v.Code.String(), reason: v.Reason}
				if !seen[l] {
					seen[l] = true
					out = append(out, l)
				}
			}
		}
	}
	return out, nil
}

// fullMethodName is the constant protoc-gen-go-grpc declares for a method.
func fullMethodName(f *protogen.File, s *options.Service, m *options.Method) protogen.GoIdent {
	return f.GoImportPath.Ident(s.Proto.GoName + "_" + m.Proto.GoName + "_FullMethodName")
}

func writeFile(gen *protogen.Plugin, f *protogen.File, services []*options.Service, labels []errorLabel) {
	g := gen.NewGeneratedFile(f.GeneratedFilenamePrefix+"_metrics.pb.go", f.GoImportPath)
	genutil.Header(g, Name, f)
	serverMethod := g.QualifiedGoIdent(metricsPackage.Ident("ServerMethod"))
	for _, s := range services {
		typ := s.Proto.GoName + "Metrics"
		full := s.FullName()

		g.P("// ", typ, " holds the Prometheus series of every method of ", full, ",")
		g.P("// created up front by New", typ, " so that dashboards show each method")
		g.P("// before its first call. Its interceptors record the service's calls.")
		g.P("type ", typ, " struct {")
		for _, m := range s.Methods {
			g.P("// ", m.Proto.GoName, " records ", m.FullMethod, ".")
			g.P(m.Proto.GoName, " *", serverMethod)
		}
		g.P("}")
		g.P()

		g.P("// New", typ, " creates the series of every method of ", full)
		g.P("// and registers them in reg. The handled counter starts at zero for every")
		g.P("// gRPC code and for every error (code and reason) declared in the service's")
		g.P("// Go package.")
		g.P("func New", typ, "(reg ", prometheusPackage.Ident("Registerer"), ") (*", typ, ", error) {")
		errs := "nil"
		if len(s.Methods) > 0 && len(labels) > 0 {
			errs = "errs"
			g.P("errs := []", metricsPackage.Ident("ErrorLabel"), "{")
			for _, l := range labels {
				g.P("{Code: ", codesPackage.Ident(l.code), ", Reason: ", strconv.Quote(l.reason), "},")
			}
			g.P("}")
		}
		g.P("m := new(", typ, ")")
		if len(s.Methods) > 0 {
			g.P("var err error")
		}
		for _, m := range s.Methods {
			g.P("if m.", m.Proto.GoName, ", err = ", metricsPackage.Ident("NewServerMethod"), "(reg, ", rpcPackage.Ident("Method"), "{")
			g.P("FullMethod: ", fullMethodName(f, s, m), ",")
			g.P("Type: ", rpcPackage.Ident(m.Type.GoName()), ",")
			if len(m.Buckets) > 0 {
				g.P("Buckets: []float64{", naming.Floats(m.Buckets), "},")
			}
			g.P("}, ", errs, "); err != nil {")
			g.P("return nil, err")
			g.P("}")
		}
		g.P("return m, nil")
		g.P("}")
		g.P()

		g.P("// Lookup returns the series of a method of ", full, " by its full")
		g.P("// name, or nil for any other method: the metrics.Lookup of the service's")
		g.P("// interceptors.")
		g.P("func (m *", typ, ") Lookup(fullMethod string) *", serverMethod, " {")
		if len(s.Methods) > 0 {
			g.P("switch fullMethod {")
			for _, m := range s.Methods {
				g.P("case ", fullMethodName(f, s, m), ":")
				g.P("return m.", m.Proto.GoName)
			}
			g.P("}")
		}
		g.P("return nil")
		g.P("}")
		g.P()

		g.P("// UnaryServerInterceptor records the unary calls of ", full)
		g.P("// and passes other services' calls through untouched.")
		g.P("func (m *", typ, ") UnaryServerInterceptor() ", grpcPackage.Ident("UnaryServerInterceptor"), " {")
		g.P("return ", metricsPackage.Ident("UnaryServerInterceptor"), "(m.Lookup)")
		g.P("}")
		g.P()
		g.P("// StreamServerInterceptor records the streaming calls of ", full)
		g.P("// and passes other services' calls through untouched.")
		g.P("func (m *", typ, ") StreamServerInterceptor() ", grpcPackage.Ident("StreamServerInterceptor"), " {")
		g.P("return ", metricsPackage.Ident("StreamServerInterceptor"), "(m.Lookup)")
		g.P("}")
		g.P()
	}
}
