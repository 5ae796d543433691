package server

import (
	"context"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/tremolo-dev/tremolo/platform/incoming"
	"github.com/tremolo-dev/tremolo/platform/metrics"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// kept is what the "Kept" method returns and keeps (as a cache would).
var kept = &structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("kept")}}

type ctxKey struct{}

// listHandler makes a unary method over ListValue messages.
func listHandler(name string, call func(context.Context, *structpb.ListValue) (*structpb.ListValue, error)) grpc.MethodDesc {
	return grpc.MethodDesc{MethodName: name, Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		in := new(structpb.ListValue)
		if err := dec(in); err != nil {
			return nil, err
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/test.v1.Lists/" + name}
		return icpt(ctx, in, info, func(ctx context.Context, req any) (any, error) { return call(ctx, req.(*structpb.ListValue)) })
	}}
}

// fresh is the last response "Fresh" built, for the test to compare with.
var fresh *structpb.ListValue

var listDesc = grpc.ServiceDesc{
	ServiceName: "test.v1.Lists",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		// Kept scribbles on its request and returns a message it keeps.
		listHandler("Kept", func(_ context.Context, in *structpb.ListValue) (*structpb.ListValue, error) {
			in.Values[0] = structpb.NewStringValue("changed by the handler")
			return kept, nil
		}),
		// Fresh builds its response for this call and hands it off.
		listHandler("Fresh", func(ctx context.Context, _ *structpb.ListValue) (*structpb.ListValue, error) {
			fresh = &structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("fresh")}}
			HandOff(ctx)
			return fresh, nil
		}),
		// Echo answers with the caller's metadata "x-k" and whether it can
		// see the caller's context value.
		listHandler("Echo", func(ctx context.Context, _ *structpb.ListValue) (*structpb.ListValue, error) {
			out := &structpb.ListValue{}
			for _, v := range incoming.MD(ctx)["x-k"] {
				out.Values = append(out.Values, structpb.NewStringValue(v))
			}
			out.Values = append(out.Values, structpb.NewBoolValue(ctx.Value(ctxKey{}) != nil))
			return out, nil
		}),
	},
}

func init() {
	// Count is client streaming: it answers how many lists it received.
	listDesc.Streams = append(listDesc.Streams, grpc.StreamDesc{StreamName: "Count", ClientStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			n := 0
			for {
				var in structpb.ListValue
				if err := stream.RecvMsg(&in); err == io.EOF {
					return stream.SendMsg(list(strconv.Itoa(n)))
				} else if err != nil {
					return err
				}
				n++
			}
		}})
}

var listMethods = []rpc.Method{
	{FullMethod: "/test.v1.Lists/Count", Type: rpc.ClientStream, Timeout: time.Second, Auth: rpc.AuthPublic},
	{FullMethod: "/test.v1.Lists/Kept", Type: rpc.Unary, Timeout: time.Second, Auth: rpc.AuthPublic},
	{FullMethod: "/test.v1.Lists/Fresh", Type: rpc.Unary, Timeout: time.Second, Auth: rpc.AuthPublic},
	{FullMethod: "/test.v1.Lists/Echo", Type: rpc.Unary, Timeout: time.Second, Auth: rpc.AuthPublic},
}

func localChannel(t *testing.T) *LocalChannel {
	t.Helper()
	ch := NewLocalChannel()
	startWith(t, loopback(), []Service{{Desc: &listDesc, Impl: testService{}, Methods: listMethods}},
		Options{Gatherer: metrics.NewRegistry(), Channel: ch})
	return ch
}

func list(s string) *structpb.ListValue {
	return &structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue(s)}}
}

// In one process as over the network, neither side can change the other's
// messages: a handler keeping its response (a cache) must not see the
// caller's edits, nor the caller see the handler's edits of the request.
func TestLocalChannelCopiesMessages(t *testing.T) {
	ch := localChannel(t)
	req, reply := list("request"), new(structpb.ListValue)
	if err := ch.Invoke(context.Background(), "/test.v1.Lists/Kept", req, reply); err != nil {
		t.Fatal(err)
	}
	if got := req.Values[0].GetStringValue(); got != "request" {
		t.Errorf("the handler's edit reached the caller's request: %q", got)
	}
	reply.Values[0].Kind = &structpb.Value_StringValue{StringValue: "changed by the caller"}
	if got := kept.Values[0].GetStringValue(); got != "kept" {
		t.Errorf("the caller's edit reached the handler's kept response: %q", got)
	}
}

// A handler that hands its response off gives it to the caller as it is:
// no copy of the messages inside.
func TestLocalChannelHandOff(t *testing.T) {
	ch := localChannel(t)
	reply := new(structpb.ListValue)
	if err := ch.Invoke(context.Background(), "/test.v1.Lists/Fresh", list("x"), reply); err != nil {
		t.Fatal(err)
	}
	if len(reply.Values) != 1 || reply.Values[0] != fresh.Values[0] {
		t.Fatalf("reply %v does not hold the handed-off message %p", reply, fresh.Values[0])
	}
	// The next call to a method that keeps its response is copied again.
	if err := ch.Invoke(context.Background(), "/test.v1.Lists/Kept", list("x"), reply); err != nil {
		t.Fatal(err)
	}
	if reply.Values[0] == kept.Values[0] {
		t.Fatal("a kept response was shared with the caller")
	}
}

// The handler reads its metadata in place, in lower case however the
// caller spelled it (package incoming relies on it).
func TestLocalChannelPassesMetadataNotValues(t *testing.T) {
	ch := localChannel(t)
	ctx := metadata.NewOutgoingContext(context.WithValue(context.Background(), ctxKey{}, 1), metadata.MD{"X-k": {"v1"}})
	ctx = metadata.AppendToOutgoingContext(ctx, "X-K", "v2")
	reply := new(structpb.ListValue)
	if err := ch.Invoke(ctx, "/test.v1.Lists/Echo", list("x"), reply); err != nil {
		t.Fatal(err)
	}
	got := reply.AsSlice()
	if len(got) != 3 || got[0] != "v1" || got[1] != "v2" || got[2] != false {
		t.Fatalf("handler saw metadata and value %v; want [v1 v2 false]", got)
	}
	err := ch.Invoke(context.Background(), "/test.v1.Lists/Nope", list("x"), reply)
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("unknown method: %v; want Unimplemented", err)
	}
}

// BenchmarkLocalChannel is one in-process call through the server's whole
// interceptor chain, with a deadline, metadata and a small request, as the
// feed's calls to the favorite and relation services are.
func BenchmarkLocalChannel(b *testing.B) {
	ch := NewLocalChannel()
	startWith(b, loopback(), []Service{{Desc: &listDesc, Impl: testService{}, Methods: listMethods}},
		Options{Gatherer: metrics.NewRegistry(), Channel: ch})
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "r1", "x-user-id", "7"), time.Minute)
	defer cancel()
	req := list("x")
	b.ReportAllocs()
	for b.Loop() {
		var reply structpb.ListValue
		if err := ch.Invoke(ctx, "/test.v1.Lists/Fresh", req, &reply); err != nil {
			b.Fatal(err)
		}
	}
}

// A handler's context hides the caller's values, yet contexts derived from
// it hear of the caller's cancellation, without a goroutine each.
func TestServerContextCancellation(t *testing.T) {
	if cancelCtxKey == nil {
		t.Fatal("the context package's parent key was not learned")
	}
	caller, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, 1))
	sctx := serverContext(caller)
	if sctx.Value(ctxKey{}) != nil {
		t.Fatal("the caller's value is visible to the handler")
	}
	before := runtime.NumGoroutine()
	var derived []context.Context
	for range 100 {
		d, c := context.WithTimeout(sctx, time.Hour)
		defer c()
		derived = append(derived, d)
	}
	if n := runtime.NumGoroutine() - before; n > 10 {
		t.Errorf("100 derived contexts started %d goroutines", n)
	}
	cancel()
	for _, d := range derived {
		select {
		case <-d.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("a derived context missed the caller's cancellation")
		}
	}
}

// A stream is over once its caller has its answer, even when the caller's
// context never ends (work at start-up): the channel's Stop does not wait
// for it.
func TestLocalStreamEndsWithItsAnswer(t *testing.T) {
	ch := localChannel(t)
	cs, err := ch.NewStream(context.Background(), &grpc.StreamDesc{StreamName: "Count", ClientStreams: true}, "/test.v1.Lists/Count")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := cs.SendMsg(list("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var out structpb.ListValue
	if err := cs.RecvMsg(&out); err != nil || out.Values[0].GetStringValue() != "3" {
		t.Fatalf("Count answered %v, %v; want 3", out.AsSlice(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ch.close(ctx); err != nil {
		t.Fatalf("close after the stream's answer: %v; the stream still counts as in flight", err)
	}
}

// InProcess tells the LocalChannel's calls from the network's.
func TestInProcess(t *testing.T) {
	if !InProcess(serverContext(context.Background())) {
		t.Error("InProcess is false for a LocalChannel call's context")
	}
	remote := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}})
	if InProcess(remote) || InProcess(context.Background()) {
		t.Error("InProcess is true for a network call or a context without a peer")
	}
}

// recorder is an interceptor that notes its name, and the request it saw,
// each time it runs.
func recorder(name string, seen *[]string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		*seen = append(*seen, name+":"+info.FullMethod)
		return h(ctx, req)
	}
}

// directMethod is a hand-written handler that answers with its request
// without calling its interceptor, so the channel cannot prebuild it.
var directMethod = grpc.MethodDesc{MethodName: "Direct", Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	in := new(structpb.ListValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	return in, nil
}}

// recordingServer serves listDesc's methods, directMethod and extra (each
// public, with a second's timeout) through ch, with an interceptor in each
// place of the chain (Interceptors.Unary "early", the service's own
// "service", Interceptors.GuardUnary "guard") noting the calls it sees in
// seen.
func recordingServer(t *testing.T, ch *LocalChannel, seen *[]string, extra ...grpc.MethodDesc) *Server {
	t.Helper()
	desc := listDesc
	desc.Methods = append(append(append([]grpc.MethodDesc{}, listDesc.Methods...), directMethod), extra...)
	methods := append([]rpc.Method{}, listMethods...)
	for _, m := range append([]grpc.MethodDesc{directMethod}, extra...) {
		methods = append(methods, rpc.Method{FullMethod: "/test.v1.Lists/" + m.MethodName, Type: rpc.Unary, Timeout: time.Second, Auth: rpc.AuthPublic})
	}
	return startWith(t, loopback(),
		[]Service{{Desc: &desc, Impl: testService{}, Methods: methods, Unary: []grpc.UnaryServerInterceptor{recorder("service", seen)}}},
		Options{Gatherer: metrics.NewRegistry(), Channel: ch, Interceptors: Interceptors{
			Unary:      []grpc.UnaryServerInterceptor{recorder("early", seen)},
			GuardUnary: []grpc.UnaryServerInterceptor{recorder("guard", seen)},
		}})
}

// An in-process call runs the same interceptors, in the same order, as the
// same call over the network (the channel chains them once per method), a
// handler that does not call its interceptor still works, and every call
// gets its own request.
func TestInProcessChainMatchesNetwork(t *testing.T) {
	var seen []string
	var requests []*structpb.ListValue
	// Requests notes each request it is handed.
	noting := listHandler("Requests", func(_ context.Context, in *structpb.ListValue) (*structpb.ListValue, error) {
		requests = append(requests, in)
		return in, nil
	})
	ch := NewLocalChannel()
	s := recordingServer(t, ch, &seen, noting)

	if ch.methods["/test.v1.Lists/Echo"].call == nil || ch.methods["/test.v1.Lists/Direct"].call != nil {
		t.Fatal("Echo was not prebuilt, or Direct was")
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-k", "v")
	var local, remote structpb.ListValue
	if err := ch.Invoke(ctx, "/test.v1.Lists/Echo", list("a"), &local); err != nil {
		t.Fatal(err)
	}
	inProcess := seen
	seen = nil
	if err := dial(t, s).Invoke(ctx, "/test.v1.Lists/Echo", list("a"), &remote); err != nil {
		t.Fatal(err)
	}
	want := []string{"early:/test.v1.Lists/Echo", "service:/test.v1.Lists/Echo", "guard:/test.v1.Lists/Echo"}
	if !slices.Equal(inProcess, want) || !slices.Equal(seen, want) {
		t.Fatalf("interceptors in process %v, over the network %v; want %v for both", inProcess, seen, want)
	}
	if local.Values[0].GetStringValue() != "v" || remote.Values[0].GetStringValue() != "v" {
		t.Fatalf("metadata seen: in process %v, over the network %v", local.Values, remote.Values)
	}

	seen = nil
	for _, s := range []string{"one", "two"} {
		var out structpb.ListValue
		if err := ch.Invoke(context.Background(), "/test.v1.Lists/Direct", list(s), &out); err != nil || out.Values[0].GetStringValue() != s {
			t.Fatalf("Direct(%s) = %v, %v", s, out.Values, err)
		}
	}
	if len(seen) != 0 {
		t.Fatalf("a handler that calls no interceptor ran %v", seen)
	}
	for range 2 {
		var out structpb.ListValue
		if err := ch.Invoke(context.Background(), "/test.v1.Lists/Requests", list("x"), &out); err != nil {
			t.Fatal(err)
		}
	}
	if len(requests) != 2 || requests[0] == requests[1] {
		t.Fatalf("requests handled: %p; want two distinct ones", requests)
	}
}

// A REST request enters through Entry once: the handler runs on the
// caller's own context (its values, a deadline from the method's
// timeout) with the caller's outgoing metadata as incoming, is not an
// in-process call (the load shedder counts it), and passes the service's
// and the guard interceptors but not the early ones (tracing's, which the
// HTTP layer's span covers). A hand-written handler that runs without its
// interceptor still answers.
func TestEntryCalls(t *testing.T) {
	var seen []string
	type where struct{ inProcess, deadline, value bool }
	var got where
	ch := NewLocalChannel()
	recordingServer(t, ch, &seen,
		// Relay calls Echo, as a handler calls the services it needs.
		listHandler("Relay", func(ctx context.Context, in *structpb.ListValue) (*structpb.ListValue, error) {
			out := new(structpb.ListValue)
			return out, ch.Invoke(ctx, "/test.v1.Lists/Echo", in, out)
		}),
		listHandler("Where", func(ctx context.Context, in *structpb.ListValue) (*structpb.ListValue, error) {
			_, deadline := ctx.Deadline()
			got = where{inProcess: InProcess(ctx), deadline: deadline, value: ctx.Value(ctxKey{}) != nil}
			return in, nil
		}))

	ctx := metadata.AppendToOutgoingContext(context.WithValue(context.Background(), ctxKey{}, 1), "x-k", "v")
	var out structpb.ListValue
	if err := ch.Entry().Invoke(ctx, "/test.v1.Lists/Echo", list("a"), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Values) != 2 || out.Values[0].GetStringValue() != "v" || !out.Values[1].GetBoolValue() {
		t.Fatalf("Echo through Entry saw %v; want the metadata x-k=v and the caller's value", out.Values)
	}
	if want := []string{"service:/test.v1.Lists/Echo", "guard:/test.v1.Lists/Echo"}; !slices.Equal(seen, want) {
		t.Fatalf("interceptors of an entry call %v, want %v", seen, want)
	}
	// The entry's metadata is its handler's alone: the calls the handler
	// makes do not pass it on (it holds the app's token).
	if err := ch.Entry().Invoke(ctx, "/test.v1.Lists/Relay", list("a"), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Values) != 1 || out.Values[0].GetBoolValue() {
		t.Fatalf("a call made by an entry's handler saw %v; want none of the entry's metadata nor values", out.Values)
	}
	if err := ch.Entry().Invoke(ctx, "/test.v1.Lists/Where", list("a"), &out); err != nil {
		t.Fatal(err)
	}
	if got != (where{inProcess: false, deadline: true, value: true}) {
		t.Fatalf("an entry call's handler saw %+v; want not in-process, a deadline and the caller's value", got)
	}
	if err := ch.Invoke(ctx, "/test.v1.Lists/Where", list("a"), &out); err != nil {
		t.Fatal(err)
	}
	if got != (where{inProcess: true, deadline: true, value: false}) {
		t.Fatalf("a call between services saw %+v; want in-process, a deadline and none of the caller's values", got)
	}
	if err := ch.Entry().Invoke(ctx, "/test.v1.Lists/Direct", list("d"), &out); err != nil || out.Values[0].GetStringValue() != "d" {
		t.Fatalf("Direct through Entry = %v, %v", out.Values, err)
	}
}
