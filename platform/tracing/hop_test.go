package tracing

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/fullstorydev/grpchan"
	"github.com/fullstorydev/grpchan/inprocgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tremolo-dev/tremolo/platform/routing"
)

// The test service, without generated code: Call is unary, Watch streams
// its responses. A hop with a next hop calls it before answering.
const (
	callMethod  = "/tremolo.test.Hop/Call"
	watchMethod = "/tremolo.test.Hop/Watch"
)

var hopDesc = grpc.ServiceDesc{
	ServiceName: "tremolo.test.Hop",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Call",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return srv.(*hop).call(ctx, req.(*wrapperspb.StringValue))
			}
			if ic == nil {
				return h(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: callMethod}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Watch",
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			return srv.(*hop).watch(ss)
		},
	}},
}

var watchDesc = &hopDesc.Streams[0]

// hop is one service of a chain. It notes the span context and incoming
// metadata each call's handler saw.
type hop struct {
	name string
	next grpc.ClientConnInterface // nil for the last hop
	// fail, when set, is returned by call instead of an answer.
	fail error
	// block makes watch send one message and wait for the caller to go.
	block bool
	// quiet keeps nothing, for benchmarks.
	quiet bool

	mu   sync.Mutex
	seen []trace.SpanContext
	md   []metadata.MD
}

func (h *hop) note(ctx context.Context) {
	if h.quiet {
		return
	}
	md, _ := metadata.FromIncomingContext(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, trace.SpanContextFromContext(ctx))
	h.md = append(h.md, md)
}

func (h *hop) lastSeen() (trace.SpanContext, metadata.MD) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) == 0 {
		return trace.SpanContext{}, nil
	}
	return h.seen[len(h.seen)-1], h.md[len(h.md)-1]
}

func (h *hop) call(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	h.note(ctx)
	if h.fail != nil {
		return nil, h.fail
	}
	if h.next == nil {
		return wrapperspb.String(in.GetValue() + h.name), nil
	}
	out := new(wrapperspb.StringValue)
	if err := h.next.Invoke(ctx, callMethod, wrapperspb.String(in.GetValue()+h.name), out); err != nil {
		return nil, err
	}
	return out, nil
}

func (h *hop) watch(ss grpc.ServerStream) error {
	h.note(ss.Context())
	in := new(wrapperspb.StringValue)
	if err := ss.RecvMsg(in); err != nil {
		return err
	}
	if h.block {
		if err := ss.SendMsg(wrapperspb.String("first")); err != nil {
			return err
		}
		<-ss.Context().Done()
		return ss.Context().Err()
	}
	for _, v := range []string{"a", "b"} {
		if err := ss.SendMsg(wrapperspb.String(in.GetValue() + v)); err != nil {
			return err
		}
	}
	return nil
}

// recording returns a provider that samples everything and records ended
// spans, as a process exporting them would.
func recording(t testing.TB, rec *tracetest.SpanRecorder, service string) trace.TracerProvider {
	t.Helper()
	tp, shutdown, err := newProvider(Config{Enabled: true, SampleRatio: 1}, service, sdktrace.WithSpanProcessor(rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	return tp
}

// serve starts a gRPC server for h on a loopback port, traced by tp, and
// returns a connection to it whose calls are traced by caller.
func serve(t testing.TB, h *hop, tp, caller trace.TracerProvider) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(routing.UnaryServerInterceptor(), UnaryServerInterceptor(tp)),
		grpc.ChainStreamInterceptor(routing.StreamServerInterceptor(), StreamServerInterceptor(tp)),
	)
	srv.RegisterService(&hopDesc, h)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(UnaryClientInterceptor(caller), routing.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(StreamClientInterceptor(caller), routing.StreamClientInterceptor()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// inproc returns an in-process channel to h, traced by tp on the server
// side; the caller only propagates its trace context, without a client
// span, as platform/app wires in-process connections. The channel hides
// the caller's context values from the handler: only metadata crosses.
func inproc(h *hop, tp trace.TracerProvider) grpc.ClientConnInterface {
	ch := new(inprocgrpc.Channel).
		WithServerUnaryInterceptor(chainUnary(routing.UnaryServerInterceptor(), UnaryServerInterceptor(tp))).
		WithServerStreamInterceptor(chainStream(routing.StreamServerInterceptor(), StreamServerInterceptor(tp)))
	ch.RegisterService(&hopDesc, h)
	return grpchan.InterceptClientConnStream(
		grpchan.InterceptClientConnUnary(ch, UnaryClientPropagator(), routing.UnaryClientInterceptor()),
		StreamClientPropagator(), routing.StreamClientInterceptor())
}

// chainUnary runs outer, then inner, then the handler.
func chainUnary(outer, inner grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return outer(ctx, req, info, func(ctx context.Context, req any) (any, error) { return inner(ctx, req, info, h) })
	}
}

// chainStream is chainUnary for streams.
func chainStream(outer, inner grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return outer(srv, ss, info, func(srv any, ss grpc.ServerStream) error { return inner(srv, ss, info, h) })
	}
}

// chain is an edge and three services, A calls B calls C, each traced by
// its own provider as separate processes would be.
type chain struct {
	a, b, c *hop
	// entry is the edge's connection to A.
	entry grpc.ClientConnInterface
}

// transports are the two ways calls travel: the network, where each call
// has a client span, and the in-process channel of the all-in-one mode,
// where it has none.
var transports = []string{"grpc", "inproc"}

// newChain builds a chain over transport; tp gives each process's
// provider, by service name ("edge", "a", "b", "c").
func newChain(t testing.TB, transport string, tp func(service string) trace.TracerProvider) *chain {
	t.Helper()
	c := &chain{a: &hop{name: "A"}, b: &hop{name: "B"}, c: &hop{name: "C"}}
	connect := func(h *hop, server, caller string) grpc.ClientConnInterface {
		if transport == "inproc" {
			return inproc(h, tp(server))
		}
		return serve(t, h, tp(server), tp(caller))
	}
	c.b.next = connect(c.c, "c", "b")
	c.a.next = connect(c.b, "b", "a")
	c.entry = connect(c.a, "a", "edge")
	return c
}
