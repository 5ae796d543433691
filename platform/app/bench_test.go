package app

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/client"
	"github.com/tremolo-dev/tremolo/platform/discovery"
	"github.com/tremolo-dev/tremolo/platform/requestid"
	"github.com/tremolo-dev/tremolo/platform/routing"
	"github.com/tremolo-dev/tremolo/platform/rpc"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/tracing"
)

// The test service, without generated code: Call answers its request.
const callMethod = "/tremolo.test.Echo/Call"

type echo struct{}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "tremolo.test.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Call",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: callMethod}, func(ctx context.Context, req any) (any, error) {
				handlerSpan = trace.SpanContextFromContext(ctx)
				server.HandOff(ctx)
				return wrapperspb.String(req.(*wrapperspb.StringValue).GetValue()), nil
			})
		},
	}},
}

// handlerSpan is the span context the echo handler last ran in.
var handlerSpan trace.SpanContext

// echoMethods declares a timeout longer than the deadline of the callers'
// contexts (handlerContext), as the services' are: the server then keeps
// the caller's deadline and sets no timer of its own.
var echoMethods = []rpc.Method{{FullMethod: callMethod, Type: rpc.Unary, Timeout: time.Hour, Auth: rpc.AuthUser}}

// newProcess serves the echo service and returns the clients of a process
// whose client configuration is cfg (Loopback for calls over its own
// port), governed as Runtime governs them, traced by tp.
func newProcess(t testing.TB, cfg client.Config, tp trace.TracerProvider) *client.Conns {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	callees, err := NewCallees(tp, reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	shedder, err := NewShedder(Config{MaxInFlight: 2048}, reg)
	if err != nil {
		t.Fatal(err)
	}
	services := []server.Service{{Name: "echo", Desc: &echoDesc, Impl: &echo{}, Methods: echoMethods}}
	faults, err := NewFaults(FaultsParams{Registerer: reg, Services: services})
	if err != nil {
		t.Fatal(err)
	}
	ch, addr := server.NewLocalChannel(), server.NewLocalAddress()
	s, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 2 * time.Second}, logger, services, server.Options{
		Gatherer:     reg,
		Local:        addr,
		Channel:      ch,
		Interceptors: serverInterceptors(ServerParams{Tracer: tp, Shedder: shedder, Faults: faults}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	conns := client.New(cfg, client.Local{Channel: ch, Entry: ch.Entry(), Addr: addr.Wait, Serves: ch.Serves}, client.Options{
		Discovery:  discovery.NewResolverBuilder(discovery.NewMemory(), nil),
		Middleware: callees.Interceptors,
	})
	t.Cleanup(func() { _ = conns.Close() })
	return conns
}

// handlerContext is the context a handler of this process calls with:
// the request's id, user, routing attributes and span, and a deadline.
func handlerContext(t testing.TB, tp trace.TracerProvider) (context.Context, trace.Span) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	ctx = requestid.NewContext(ctx, requestid.New())
	ctx = auth.WithUser(ctx, 42)
	ctx = routing.NewContext(ctx, routing.Route{Cell: "3"})
	return tp.Tracer("test").Start(ctx, "handler")
}

// BenchmarkInProcessCall is one call between two services of one process
// as the all-in-one makes it (the feed's calls to favorite and relation):
// the platform's client interceptors and the app's (tracing, breaker,
// retries), the LocalChannel, the server's whole interceptor chain with the
// app's (tracing, shedding, faults), with the default tracing (on, no
// collector).
func BenchmarkInProcessCall(b *testing.B) {
	tp, _, err := tracing.NewProvider(tracing.Config{Enabled: true, SampleRatio: 1}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	cc, err := newProcess(b, client.Config{}, tp).Conn("echo", echoMethods)
	if err != nil {
		b.Fatal(err)
	}
	ctx, _ := handlerContext(b, tp)
	req := wrapperspb.String("x")
	b.ReportAllocs()
	for b.Loop() {
		var reply wrapperspb.StringValue
		if err := cc.Invoke(ctx, callMethod, req, &reply); err != nil {
			b.Fatal(err)
		}
	}
}
