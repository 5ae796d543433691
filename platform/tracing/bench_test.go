package tracing

import (
	"context"
	"testing"

	"github.com/fullstorydev/grpchan"
	"github.com/fullstorydev/grpchan/inprocgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// discard is an exporter that drops every batch: the cost of exporting
// without a network.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkUnaryInProcess measures one unary call over an in-process
// grpchan channel, with the interceptors of each mode as in-process
// connections have them: the propagator on the client side, the server
// span on the other.
func BenchmarkUnaryInProcess(b *testing.B) {
	// tp nil: no tracing interceptors at all.
	for _, bc := range append([]benchProvider{{name: "no-interceptors"}}, benchProviders(b)...) {
		b.Run(bc.name, func(b *testing.B) {
			ch := new(inprocgrpc.Channel)
			var cc grpc.ClientConnInterface = ch
			if bc.tp != nil {
				ch = ch.WithServerUnaryInterceptor(UnaryServerInterceptor(bc.tp))
				cc = grpchan.InterceptClientConnUnary(ch, UnaryClientPropagator())
			}
			ch.RegisterService(&hopDesc, &hop{name: "A", quiet: true})
			ctx := context.Background()
			in, out := wrapperspb.String("x"), new(wrapperspb.StringValue)
			loop(b, func() error { return cc.Invoke(ctx, callMethod, in, out) })
		})
	}
}

// BenchmarkInterceptors measures the tracing interceptors alone: a client
// interceptor whose call reaches a server interceptor on the same
// goroutine, its outgoing metadata turned into incoming metadata, as
// platform/server's LocalChannel delivers unary calls. The client side is
// either an in-process connection's (the propagator) or a network
// connection's (a client span).
func BenchmarkInterceptors(b *testing.B) {
	for _, path := range []string{"in-process", "network"} {
		for _, bc := range benchProviders(b) {
			b.Run(path+"/"+bc.name, func(b *testing.B) { benchInterceptors(b, path, bc.tp) })
		}
	}
}

func benchInterceptors(b *testing.B, path string, tp trace.TracerProvider) {
	client, server := UnaryClientPropagator(), UnaryServerInterceptor(tp)
	if path == "network" {
		client = UnaryClientInterceptor(tp)
	}
	info := &grpc.UnaryServerInfo{FullMethod: callMethod}
	handler := func(ctx context.Context, req any) (any, error) { return req, nil }
	invoker := func(ctx context.Context, _ string, req, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		sctx := context.Background()
		if md, ok := metadata.FromOutgoingContext(ctx); ok {
			sctx = metadata.NewIncomingContext(sctx, md)
		}
		_, err := server(sctx, req, info, handler)
		return err
	}
	// A request id is in the metadata of every platform call: the
	// metadata copy is paid with or without tracing.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "abc-1")
	// The caller is a handler, in a trace.
	ctx, _ = tp.Tracer("bench").Start(ctx, "handler", serverKind...)
	loop(b, func() error { return client(ctx, callMethod, nil, nil, nil, invoker) })
}

type benchProvider struct {
	name string
	tp   trace.TracerProvider
}

// benchProviders are the modes benchmarks compare.
func benchProviders(b *testing.B) []benchProvider {
	provider := func(cfg Config, extra ...sdktrace.TracerProviderOption) trace.TracerProvider {
		tp, shutdown, err := newProvider(cfg, "bench", extra...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = shutdown(context.Background()) })
		return tp
	}
	return []benchProvider{
		{"off", provider(Config{})},
		{"on/ratio=0", provider(Config{Enabled: true, SampleRatio: 0})},
		{"on/no-exporter", provider(Config{Enabled: true, SampleRatio: 1})},
		// What idsOnly replaces: the SDK recording spans nobody reads.
		{"on/sdk-no-processor", provider(Config{Enabled: true, SampleRatio: 1}, sdktrace.WithSpanLimits(sdktrace.NewSpanLimits()))},
		{"on/batch-exporter", provider(Config{Enabled: true, SampleRatio: 1}, sdktrace.WithBatcher(discard{}))},
	}
}

// loop runs call b.N times and reports the process's CPU time per call
// besides wall time: the machine running the benchmarks may be shared.
func loop(b *testing.B, call func() error) {
	b.ReportAllocs()
	start := cpuTime()
	n := 0
	for b.Loop() {
		if err := call(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	}
}
