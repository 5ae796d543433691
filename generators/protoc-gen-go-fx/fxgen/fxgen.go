// Package fxgen is protoc-gen-go-fx: for each service it writes
// <file>_fx.pb.go, wiring the service into Tremolo's runtime:
//
//   - <Service>Name, the short name the platform knows the service by;
//   - <Service>Methods, the []rpc.Method its options declare, defaults
//     resolved (the server applies them, clients use them);
//   - <Service>Module(newServer), the fx module that serves it: the
//     implementation, its metrics (protoc-gen-go-metrics) and a
//     server.Service in the "tremolo.services" group, with the REST gateway
//     (protoc-gen-grpc-gateway) when any method has a google.api.http
//     binding;
//   - <Service>ClientModule and New<Service>ConnClient, a typed client on
//     the platform's connection to the service (platform/client).
package fxgen

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/compiler/protogen"

	"github.com/tremolo-dev/tremolo/generators/internal/genutil"
	"github.com/tremolo-dev/tremolo/generators/internal/naming"
	"github.com/tremolo-dev/tremolo/generators/internal/options"
)

// Name is the plugin's name, as generated files credit it.
const Name = "protoc-gen-go-fx"

const (
	fxPackage     = protogen.GoImportPath("go.uber.org/fx")
	grpcPackage   = protogen.GoImportPath("google.golang.org/grpc")
	timePackage   = protogen.GoImportPath("time")
	rpcPackage    = protogen.GoImportPath("github.com/tremolo-dev/tremolo/platform/rpc")
	serverPackage = protogen.GoImportPath("github.com/tremolo-dev/tremolo/platform/server")
	clientPackage = protogen.GoImportPath("github.com/tremolo-dev/tremolo/platform/client")
)

// Plugin returns the plugin's protogen options and generator function; main
// passes them to protogen.Options.Run, tests run them in-process.
func Plugin() (protogen.Options, func(*protogen.Plugin) error) {
	return protogen.Options{ParamFunc: func(name, _ string) error {
		return fmt.Errorf("%s: unknown parameter %q (it takes none)", Name, name)
	}}, generate
}

func generate(gen *protogen.Plugin) error {
	genutil.Setup(gen)
	r := options.NewReader(gen)
	var probs options.Problems
	for _, f := range genutil.Files(gen) {
		services, err := r.Services(f)
		if err != nil {
			probs.Add(err)
			continue
		}
		if len(services) > 0 && probs.Len() == 0 {
			writeFile(gen, f, services)
		}
	}
	return probs.Err()
}

func writeFile(gen *protogen.Plugin, f *protogen.File, services []*options.Service) {
	g := gen.NewGeneratedFile(f.GeneratedFilenamePrefix+"_fx.pb.go", f.GoImportPath)
	genutil.Header(g, Name, f)
	for _, s := range services {
		writeService(g, f, s)
	}
}

func writeService(g *protogen.GeneratedFile, f *protogen.File, s *options.Service) {
	svc := s.Proto.GoName
	full := s.FullName()
	ident := func(name string) protogen.GoIdent { return f.GoImportPath.Ident(name) }
	nameConst := svc + "Name"
	methodsVar := svc + "Methods"
	metricsType := svc + "Metrics"
	serverIface := ident(svc + "Server")
	clientIface := ident(svc + "Client")
	newService := "new" + svc + "Service"

	g.P("// ", nameConst, " is the short name of ", full, ": how configuration,")
	g.P("// service discovery and logs know it, and the name its clients dial.")
	g.P("const ", nameConst, " = ", strconv.Quote(s.Name))
	g.P()

	g.P("// ", methodsVar, " describes the methods of ", full, " as their")
	g.P("// tremolo.options.v1 options declare them, with defaults resolved: the server")
	g.P("// applies their timeouts and auth, clients their timeouts when the caller")
	g.P("// set no deadline, the edge their auth and rate class.")
	g.P("var ", methodsVar, " = []", rpcPackage.Ident("Method"), "{")
	for _, m := range s.Methods {
		g.P("{")
		g.P("FullMethod: ", ident(svc+"_"+m.Proto.GoName+"_FullMethodName"), ",")
		g.P("Type: ", rpcPackage.Ident(m.Type.GoName()), ",")
		g.P(append([]any{"Timeout: "}, timeout(m)...)...)
		g.P("Auth: ", rpcPackage.Ident(m.Auth.GoName()), ",")
		g.P("Idempotent: ", m.Idempotent, ",")
		if m.MaxAttempts > 0 {
			g.P("MaxAttempts: ", m.MaxAttempts, ",")
		}
		if m.Degradable {
			g.P("Degradable: true,")
		}
		g.P("RateClass: ", strconv.Quote(m.RateClass), ",")
		if len(m.Buckets) > 0 {
			g.P("Buckets: []float64{", naming.Floats(m.Buckets), "},")
		}
		g.P("},")
	}
	g.P("}")
	g.P()

	g.P("// ", svc, "Module returns the fx module that serves ", full, ".")
	g.P("// newServer constructs the implementation: any function fx can call (its")
	g.P("// parameters are injected) whose result implements ", serverIface.GoName, ".")
	g.P("// The module provides it as ", serverIface.GoName, ", the service's metrics")
	g.P("// (New", metricsType, ") and a server.Service in the server's")
	g.P("// \"tremolo.services\" group, which platform/server registers.")
	g.P("func ", svc, "Module(newServer any) ", fxPackage.Ident("Option"), " {")
	g.P("return ", fxPackage.Ident("Module"), "(", strconv.Quote(full), ",")
	g.P(fxPackage.Ident("Provide"), "(")
	g.P(fxPackage.Ident("Annotate"), "(newServer, ", fxPackage.Ident("As"), "(new(", serverIface, "))),")
	g.P("New", metricsType, ",")
	g.P(newService, ",")
	g.P("),")
	g.P(")")
	g.P("}")
	g.P()

	g.P("// ", newService, " describes ", full, " to platform/server: ")
	g.P("// its implementation, methods, metrics interceptors and REST gateway.")
	g.P("func ", newService, "(impl ", serverIface, ", m *", metricsType, ") ", serverPackage.Ident("ServiceResult"), " {")
	g.P("return ", serverPackage.Ident("ServiceResult"), "{Service: ", serverPackage.Ident("Service"), "{")
	g.P("Name: ", nameConst, ",")
	g.P("Desc: &", ident(svc+"_ServiceDesc"), ",")
	g.P("Impl: impl,")
	g.P("Methods: ", methodsVar, ",")
	g.P("Unary: []", grpcPackage.Ident("UnaryServerInterceptor"), "{m.UnaryServerInterceptor()},")
	g.P("Stream: []", grpcPackage.Ident("StreamServerInterceptor"), "{m.StreamServerInterceptor()},")
	if s.HasHTTP() {
		g.P("RegisterGateway: ", ident("Register"+svc+"Handler"), ",")
	} else {
		g.P("RegisterGateway: nil, // no method has a google.api.http binding")
	}
	g.P("}}")
	g.P("}")
	g.P()

	g.P("// ", svc, "ClientModule provides a ", clientIface.GoName, " that calls the ")
	g.P("// ", strconv.Quote(s.Name), " service (", full, ") through the platform's")
	g.P("// connections (*client.Conns), which apply the methods' timeouts from")
	g.P("// ", methodsVar, " when the caller set no deadline.")
	g.P("var ", svc, "ClientModule = ", fxPackage.Ident("Module"), "(", strconv.Quote(full+".client"), ",")
	g.P(fxPackage.Ident("Provide"), "(New", svc, "ConnClient),")
	g.P(")")
	g.P()

	g.P("// New", svc, "ConnClient returns a ", clientIface.GoName, " on the platform's")
	g.P("// connection to the ", strconv.Quote(s.Name), " service. ", svc, "ClientModule provides it")
	g.P("// in fx apps; code without fx calls it directly.")
	g.P("func New", svc, "ConnClient(conns *", clientPackage.Ident("Conns"), ") (", clientIface, ", error) {")
	g.P("cc, err := conns.Conn(", nameConst, ", ", methodsVar, ")")
	g.P("if err != nil {")
	g.P("return nil, err")
	g.P("}")
	g.P("return ", ident("New"+svc+"Client"), "(cc), nil")
	g.P("}")
	g.P()
}

// timeout returns the pieces of m's Timeout expression and its comma:
// rpc.DefaultTimeout, time.Second, or n * time.<Unit>.
func timeout(m *options.Method) []any {
	if m.Timeout == 0 {
		return []any{rpcPackage.Ident("DefaultTimeout"), ","}
	}
	n, unit := naming.DurationUnit(m.Timeout)
	if n == 1 {
		return []any{timePackage.Ident(unit), ","}
	}
	return []any{n, " * ", timePackage.Ident(unit), ","}
}
