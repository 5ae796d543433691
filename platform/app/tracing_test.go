package app

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tremolo-dev/tremolo/platform/client"
)

// A call within the process has no client span: the callee's server span
// is the direct child of the caller's span. A call that leaves it (here
// over the process's own port) has a client span between the two. A REST
// request's entry (through Conns.Gateway) has neither: its handler runs in
// the caller's span, the HTTP request's.
func TestSpansOfInProcessAndNetworkCalls(t *testing.T) {
	for _, tc := range []struct {
		name     string
		loopback bool
		gateway  bool // through Conns.Gateway, as the edge's REST requests
		client   bool // whether the call has a client span
	}{
		{name: "in-process"},
		{name: "gateway", gateway: true},
		{name: "loopback", loopback: true, client: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			conns := newProcess(t, client.Config{Loopback: tc.loopback}, tp)
			var cc grpc.ClientConnInterface
			var err error
			if tc.gateway {
				cc, err = conns.Gateway("echo", echoMethods)
			} else {
				cc, err = conns.Conn("echo", echoMethods)
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx, caller := handlerContext(t, tp)
			if err := cc.Invoke(ctx, callMethod, wrapperspb.String("x"), new(wrapperspb.StringValue)); err != nil {
				t.Fatal(err)
			}
			caller.End()

			byKind := map[trace.SpanKind][]sdktrace.ReadOnlySpan{}
			for _, s := range rec.Ended() {
				byKind[s.SpanKind()] = append(byKind[s.SpanKind()], s)
			}
			servers, clients := byKind[trace.SpanKindServer], byKind[trace.SpanKindClient]
			if tc.gateway {
				if len(servers) != 0 || len(clients) != 0 {
					t.Fatalf("%d server and %d client spans for an entry call, want none", len(servers), len(clients))
				}
				if !handlerSpan.Equal(caller.SpanContext()) {
					t.Fatalf("the entry's handler ran in span %s, want the caller's %s", handlerSpan.SpanID(), caller.SpanContext().SpanID())
				}
				return
			}
			wantClients := 0
			if tc.client {
				wantClients = 1
			}
			if len(servers) != 1 || len(clients) != wantClients {
				t.Fatalf("%d server and %d client spans, want 1 and %d", len(servers), len(clients), wantClients)
			}
			parent := caller.SpanContext()
			if tc.client {
				if got := clients[0].Parent(); got.SpanID() != parent.SpanID() {
					t.Errorf("client span's parent %s, want the caller's span %s", got.SpanID(), parent.SpanID())
				}
				parent = clients[0].SpanContext()
			}
			if got := servers[0].Parent(); got.TraceID() != parent.TraceID() || got.SpanID() != parent.SpanID() {
				t.Errorf("server span's parent %s/%s, want %s/%s", got.TraceID(), got.SpanID(), parent.TraceID(), parent.SpanID())
			}
		})
	}
}
