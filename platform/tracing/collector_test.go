package tracing

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// collector is an OTLP/gRPC trace collector on a loopback port that keeps
// the names of the spans it receives, by service.name.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	addr string

	mu    sync.Mutex
	spans map[string][]string
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{addr: lis.Addr().String(), spans: map[string][]string{}}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, c)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return c
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		var svc string
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				svc = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans[svc] = append(c.spans[svc], s.GetName())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (c *collector) received(svc string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spans[svc]
}

// serveOne runs one call through tp's server interceptor.
func serveOne(t *testing.T, tp trace.TracerProvider) {
	t.Helper()
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", appParent))
	_, err := UnaryServerInterceptor(tp)(ctx, nil, &grpc.UnaryServerInfo{FullMethod: callMethod},
		func(context.Context, any) (any, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
}

// Spans reach the collector, at the latest when the module stops: the
// batch is flushed within the stop context.
func TestModuleExportsAndFlushesOnStop(t *testing.T) {
	col := newCollector(t)
	var tp trace.TracerProvider
	app := fxtest.New(t,
		fx.Supply(Config{Enabled: true, SampleRatio: 1, OTLPEndpoint: col.addr, OTLPInsecure: true}, ServiceName("feed")),
		Module,
		fx.Populate(&tp),
	)
	app.RequireStart()
	serveOne(t, tp)
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if got := col.received("feed"); len(got) != 1 || got[0] != "tremolo.test.Hop/Call" {
		t.Errorf("collector received %q for feed, want the one server span", got)
	}
}

// A collector that is not there costs the process nothing at start, and
// stopping does not outlast the stop context.
func TestCollectorDownDoesNotBlock(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	tp, shutdown, err := NewProvider(Config{Enabled: true, SampleRatio: 1, OTLPEndpoint: addr, OTLPInsecure: true}, "feed")
	if err != nil {
		t.Fatal(err)
	}
	serveOne(t, tp)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_ = shutdown(ctx) // an error is expected: the batch could not be sent
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a 300ms context", d)
	}
}
