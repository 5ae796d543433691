package server

import (
	"context"
	"fmt"
	"sync"

	"github.com/fullstorydev/grpchan/inprocgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tremolo-dev/tremolo/platform/internal/callmd"
	"github.com/tremolo-dev/tremolo/platform/internal/ctxkey"
)

// LocalChannel carries calls between the services of one process without a
// network: the all-in-one mode's services call each other through it.
//
// A call still behaves as one over the gRPC port: the request and response
// are copied (neither side can alter the other's messages), metadata crosses
// as metadata and context values do not, deadlines and cancellation hold, and
// the server's interceptors (request id, metrics, errors, recovery, auth,
// timeouts) run as they do for remote calls. The one value that crosses is
// the caller's span context, as the callee's remote parent: what a
// traceparent header would tell the callee, without writing and parsing
// one (an eighth of a unary call's CPU; platform/tracing prefers it to the
// metadata's). What it saves is the HTTP/2
// framing, the encoding and the loopback socket: most of the CPU of a call
// between two services of one process.
//
// It is created before the Server (clients of services are built before the
// services they call) and becomes usable when New registers the services;
// calls made earlier wait for that, as loopback calls wait for the listener.
// After Stop it refuses calls with UNAVAILABLE.
type LocalChannel struct {
	once    sync.Once
	ready   chan struct{}
	ch      *inprocgrpc.Channel   // streams
	methods map[string]localUnary // unary methods by full name
	unary   grpc.UnaryServerInterceptor

	mu       sync.RWMutex
	closed   bool
	inflight sync.WaitGroup
}

var _ grpc.ClientConnInterface = (*LocalChannel)(nil)

// NewLocalChannel returns a channel that waits for its services.
func NewLocalChannel() *LocalChannel { return &LocalChannel{ready: make(chan struct{})} }

// serve makes the channel deliver calls to services, through the server's
// interceptor chains. Only the first call counts.
func (l *LocalChannel) serve(services []Service, chains serverChains) {
	l.once.Do(func() {
		unary, stream := chainUnary(chains.unary), chainStream(chains.stream)
		ch := new(inprocgrpc.Channel).
			WithCloner(protoCloner{}).
			WithServerUnaryInterceptor(unary).
			WithServerStreamInterceptor(stream)
		l.methods = map[string]localUnary{}
		for _, svc := range services {
			ch.RegisterService(svc.Desc, svc.Impl)
			is, entry := chains.unaryOf(svc), chains.entryOf(svc)
			for _, m := range svc.Desc.Methods {
				u := localUnary{srv: svc.Impl, handler: m.Handler}
				if p, ok := prebuild(svc.Impl, m.Handler); ok {
					u.call, u.entry, u.newRequest = p.chain(is), p.chain(entry), p.newRequest
				}
				l.methods["/"+svc.Desc.ServiceName+"/"+m.MethodName] = u
			}
		}
		l.ch = ch
		l.unary = unary
		close(l.ready)
	})
}

// Serves reports whether this process serves the gRPC service fullName
// ("douyin.user.v1.UserService"), waiting until the server is built.
func (l *LocalChannel) Serves(ctx context.Context, fullName string) (bool, error) {
	select {
	case <-l.ready:
	case <-ctx.Done():
		return false, fmt.Errorf("server: waiting for this process's services: %w", ctx.Err())
	}
	_, ok := l.ch.GetServiceInfo()[fullName]
	return ok, nil
}

// begin waits until the channel serves and counts the call as in flight.
func (l *LocalChannel) begin(ctx context.Context) error {
	select {
	case <-l.ready:
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return status.Error(codes.Unavailable, "server: the process is shutting down")
	}
	l.inflight.Add(1)
	return nil
}

// localUnary is a unary method of a registered service.
type localUnary struct {
	srv     any
	handler grpc.MethodHandler
	// call is the method's interceptors and handler chained once, and
	// newRequest makes the message it takes (see prebuild); nil when the
	// method could not be prebuilt, and handler runs with the chain.
	call       grpc.UnaryHandler
	newRequest func() proto.Message
	// entry is the method's handler behind the gateway's entry chain
	// (serverChains.entryOf), for Entry; nil when not prebuilt.
	entry grpc.UnaryHandler
}

// prebuild captures what a unary method's chains are built of, once, for
// every call: grpc-go's generated method handlers make a closure for the
// service's method and a UnaryServerInfo on every call, and a chain of
// interceptors makes a closure per interceptor on top, a dozen allocations
// a call that are the same every time. The generated handler is run once
// with an interceptor that keeps what it is given (the request it decoded,
// the info and the closure, which holds only the service) without calling
// on; chain then builds a chain on them. A handler that does not call its
// interceptor, or whose request is not a protobuf message, is not
// prebuilt. (grpc-go's generated handlers always call it; a hand-written
// one that runs its method without it does so here once, with an empty
// request and a canceled context.)
func prebuild(srv any, h grpc.MethodHandler) (prebuilt, bool) {
	var (
		req   any
		info  *grpc.UnaryServerInfo
		final grpc.UnaryHandler
	)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	func() {
		defer func() { _ = recover() }() // a hand-written handler may not take a zero request
		_, _ = h(srv, ctx, func(any) error { return nil },
			func(_ context.Context, r any, i *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				req, info, final = r, i, handler
				return nil, nil
			})
	}()
	msg, ok := req.(proto.Message)
	if !ok || info == nil || final == nil {
		return prebuilt{}, false
	}
	mt := msg.ProtoReflect().Type()
	return prebuilt{info: info, final: final, newRequest: func() proto.Message { return mt.New().Interface() }}, true
}

// prebuilt is a unary method as prebuild captured it.
type prebuilt struct {
	info       *grpc.UnaryServerInfo
	final      grpc.UnaryHandler
	newRequest func() proto.Message
}

// chain returns the method's handler behind the interceptors is.
func (p prebuilt) chain(is []grpc.UnaryServerInterceptor) grpc.UnaryHandler {
	call := p.final
	for i := len(is) - 1; i >= 0; i-- {
		icpt, next := is[i], call
		call = func(ctx context.Context, req any) (any, error) { return icpt(ctx, req, p.info, next) }
	}
	return call
}

// Invoke performs a unary call on the caller's goroutine. Unlike a call
// over the network, the caller waits for the handler even past its
// deadline; handlers that honour their context (all of ours do: every
// query takes it) return at once then.
func (l *LocalChannel) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	return l.invoke(ctx, method, req, reply, false, opts)
}

// Entry returns the channel through which grpc-gateway enters the services
// of this process on behalf of REST requests (client.Conns.Gateway). A
// REST request enters here once and is governed here once, as a gRPC
// request is where it arrives over the network: unlike a call between two
// services of the process, an entry call is counted by the load shedder
// (server.InProcess is false for it), and the handler runs on the REST
// request's own context (its request id, verified user and span, which the
// HTTP middlewares put there), with grpc-gateway's outgoing metadata (the
// routing headers, Accept-Language) as its incoming metadata, through the
// entry chain (serverChains.entryOf): the service's interceptors, errors,
// recovery, the guards, auth and the method's deadline, but not the
// interceptors that would read the request id and trace context back from
// metadata. An in-process hop costs 9-10 µs of CPU under load, spread over
// all of that; the entry's is about half of it (docs/benchmarks.md).
//
// Messages pass without copies: the handler reads the caller's request
// itself, and the caller's reply takes the handler's response's fields by
// reference. That is only for callers that neither keep nor modify the
// messages they send and receive: grpc-gateway's generated handlers, which
// decode a fresh request for each HTTP request and only marshal the
// response. Streams go as through the LocalChannel (NewStream), their
// messages copied, on a context of their own.
func (l *LocalChannel) Entry() grpc.ClientConnInterface { return entryChannel{l} }

type entryChannel struct{ l *LocalChannel }

func (c entryChannel) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	return c.l.invoke(ctx, method, req, reply, true, opts)
}

func (c entryChannel) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.l.NewStream(ctx, desc, method, opts...)
}

// copier moves a message across an in-process call.
type copier interface{ Copy(out, in any) error }

// invoke performs a unary call: as a call between services (entry false:
// the handler's context is serverContext's, the messages copied), or as an
// entry call (see Entry: the messages shared).
func (l *LocalChannel) invoke(ctx context.Context, method string, req, reply any, entry bool, opts []grpc.CallOption) error {
	var cp copier = protoCloner{}
	if entry {
		cp = sharer{}
	}
	if err := l.begin(ctx); err != nil {
		return err
	}
	defer l.inflight.Done()
	m, ok := l.methods[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s in this process", method)
	}
	st := &localStream{method: method}
	var resp any
	var err error
	switch {
	case entry && m.entry != nil:
		// The gateway's metadata (the routing headers, Accept-Language,
		// but also the Authorization header and the user it verified) is
		// the handler's incoming metadata, and only that: left as the
		// outgoing metadata too, it would go on with every call the
		// handler makes, the app's token included, and pin their user.
		md, _ := metadata.FromOutgoingContext(ctx) // a copy, the handler's to keep
		sctx := metadata.NewOutgoingContext(metadata.NewIncomingContext(ctx, md), nil)
		resp, err = m.entry(grpc.NewContextWithServerTransportStream(sctx, st), req)
	case m.call != nil:
		sctx := grpc.NewContextWithServerTransportStream(serverContext(ctx), st)
		in := m.newRequest()
		if err = cp.Copy(in, req); err == nil {
			resp, err = m.call(sctx, in)
		}
	default:
		// Not prebuilt (a hand-written handler): the whole chain, and the
		// context of a call between services even for an entry.
		sctx := grpc.NewContextWithServerTransportStream(serverContext(ctx), st)
		resp, err = m.handler(m.srv, sctx, func(in any) error { return cp.Copy(in, req) }, l.unary)
	}
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = st.header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = st.trailer
		case grpc.PeerCallOption:
			*o.PeerAddr = *localPeer
		}
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return status.FromContextError(cerr).Err()
		}
		return status.Convert(err).Err()
	}
	if resp == nil {
		return status.Errorf(codes.Internal, "%s returned neither a response nor an error", method)
	}
	if st.handOff {
		cp = sharer{}
	}
	return cp.Copy(reply, resp)
}

// serverContext is what a handler sees of the caller's context: its
// deadline and cancellation, its outgoing metadata as incoming metadata, and
// none of its values, as over the network (the caller's verified user, say,
// must reach the callee as metadata, not as a context value).
//
// metadata.FromOutgoingContext is the one way to read the outgoing metadata
// (grpc-go keeps how it holds it unexported), and what it returns is the
// handler's alone: a new map, keys lowered, the values of metadata set
// with NewOutgoingContext copied and the pairs of AppendToOutgoingContext
// gathered into new slices. So nothing the caller may change later is
// shared, and the map goes into the handler's context as it is.
//
// The platform's client sends what travels with every call (request id,
// user, routing) as pairs beside the outgoing metadata
// (platform/internal/callmd); they join it here, in one pass. The caller's
// span context becomes the handler's remote parent (see LocalChannel).
func serverContext(ctx context.Context) context.Context {
	sctx := context.Context(valueless{ctx})
	md, _ := metadata.FromOutgoingContext(ctx)
	if kv := callmd.Pairs(ctx); len(kv) > 0 {
		md = callmd.Merge(md, kv)
	}
	if md != nil {
		sctx = metadata.NewIncomingContext(sctx, md)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		sctx = trace.ContextWithRemoteSpanContext(sctx, sc)
	}
	return peer.NewContext(sctx, localPeer)
}

// ReadsCallMD tells the platform's client that this channel delivers the
// pairs of platform/internal/callmd as the callee's incoming metadata.
func (l *LocalChannel) ReadsCallMD() {}

// valueless hides a context's values, all but one: the key under which the
// context package finds the cancelable context a new one derives from.
// Hiding that one too would make every context derived in the handler (its
// timeout, say) start a goroutine to watch Done: a tenth of the cost of an
// in-process call.
type valueless struct{ context.Context }

func (v valueless) Value(key any) any {
	if key == cancelCtxKey {
		return v.Context.Value(key)
	}
	return nil
}

// cancelCtxKey is the context package's own (unexported) key for finding a
// context's cancelable parent. It is learned once, by watching which key a
// new cancelable context asks its parent for; should that ever change, the
// key is nil, and derived contexts only cost a goroutine again.
var cancelCtxKey = func() any {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := ctxkey.FirstAsked(parent, func(ctx context.Context) {
		_, cancelChild := context.WithCancel(ctx)
		cancelChild()
	})
	// A cancelable context answers its own key with itself: anything else
	// is not the key, and passing it through would leak a value.
	if first == nil || parent.Value(first) != any(parent) {
		return nil
	}
	return first
}()

// InProcess reports whether the call whose server-side context is ctx came
// through the LocalChannel, from a service of this same process, rather
// than over the network.
func InProcess(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	return ok && p.Addr == localPeer.Addr
}

// localPeer is the peer of in-process calls.
var localPeer = &peer.Peer{Addr: localAddr{}}

type localAddr struct{}

func (localAddr) Network() string { return "inproc" }
func (localAddr) String() string  { return "inproc" }

// localStream collects the headers and trailers a unary handler sets
// (grpc.SetHeader), for the caller's grpc.Header and grpc.Trailer options.
type localStream struct {
	method          string
	header, trailer metadata.MD
	// handOff is set by HandOff: the response is the caller's to keep.
	handOff bool
}

func (s *localStream) Method() string { return s.method }

func (s *localStream) SetHeader(md metadata.MD) error {
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *localStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *localStream) SetTrailer(md metadata.MD) error {
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

// NewStream opens a stream. The stream counts as in flight until its
// context ends: inprocgrpc cancels that context when the call finishes.
func (l *LocalChannel) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if err := l.begin(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	cs, err := l.ch.NewStream(ctx, desc, method, opts...)
	if err != nil {
		cancel()
		l.inflight.Done()
		return nil, err
	}
	// The call is over when its context ends or, as gRPC defines it, when
	// the caller has read the stream's end: an error from RecvMsg (io.EOF
	// included), or the one response of a stream the server does not
	// stream. A caller whose context never ends (start-up work on
	// context.Background) would otherwise hold Stop until its timeout.
	var once sync.Once
	finish := func() { once.Do(func() { cancel(); l.inflight.Done() }) }
	go func() {
		<-ctx.Done()
		finish()
	}()
	return &localClientStream{ClientStream: cs, serverStreams: desc.ServerStreams, finish: finish}, nil
}

// localClientStream ends an in-process stream once its caller has read it
// to the end.
type localClientStream struct {
	grpc.ClientStream
	serverStreams bool
	finish        func()
}

func (s *localClientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.serverStreams {
		s.finish()
	}
	return err
}

// close refuses new calls and waits for those in flight, or for ctx.
func (l *LocalChannel) close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	done := make(chan struct{})
	go func() {
		l.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// protoCloner copies messages with google.golang.org/protobuf. inprocgrpc's
// default cloner goes through a reflective merge written for the older
// protobuf API, several times slower on a feed page.
type protoCloner struct{}

func (protoCloner) Copy(out, in any) error {
	dst, ok1 := out.(proto.Message)
	src, ok2 := in.(proto.Message)
	if !ok1 || !ok2 {
		return status.Errorf(codes.Internal, "server: in-process call with a non-protobuf message %T", in)
	}
	if dst.ProtoReflect().Descriptor() != src.ProtoReflect().Descriptor() {
		return status.Errorf(codes.Internal, "server: in-process call copying %T into %T", in, out)
	}
	proto.Reset(dst)
	proto.Merge(dst, src)
	return nil
}

func (protoCloner) Clone(in any) (any, error) {
	src, ok := in.(proto.Message)
	if !ok {
		return nil, status.Errorf(codes.Internal, "server: in-process call with a non-protobuf message %T", in)
	}
	return proto.Clone(src), nil
}

// sharer sets out's fields to in's, sharing lists, maps and messages: a
// shallow copy, for the Entry channel.
type sharer struct{}

func (sharer) Copy(out, in any) error {
	dst, ok1 := out.(proto.Message)
	src, ok2 := in.(proto.Message)
	if !ok1 || !ok2 {
		return status.Errorf(codes.Internal, "server: in-process call with a non-protobuf message %T", in)
	}
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	if d.Descriptor() != s.Descriptor() {
		return status.Errorf(codes.Internal, "server: in-process call copying %T into %T", in, out)
	}
	proto.Reset(dst)
	s.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(fd, v)
		return true
	})
	return nil
}
