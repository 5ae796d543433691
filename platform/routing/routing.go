// Package routing carries the request attributes that decide where a call
// goes, from the edge through every gRPC hop: the gray version and A/B
// experiments the abrouting plugin chose, the traffic tag and the user's
// cell the colour plugin set.
//
// The edge reads them from the request's headers (FromHeader) after its
// plugin chain has run; every service keeps the incoming ones in its
// handler's context (the server interceptors) and forwards them on each
// call it makes (the client interceptors), where balancers read them from
// the outgoing metadata to pick an instance. A service therefore never
// handles them itself: a canary request stays on the canary as deep as the
// canary is deployed.
package routing

import (
	"context"
	"net/http"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tremolo-dev/tremolo/platform/incoming"
)

// The gRPC metadata keys, lower case as gRPC requires.
const (
	// VersionKey names the deployment a gray request asks for: matched
	// against an instance's version or its "version" label.
	VersionKey = "x-tremolo-version"
	// ExperimentKey lists the request's A/B assignments,
	// "experiment=variant,...", matched against instance labels.
	ExperimentKey = "x-tremolo-experiment"
	// TrafficTagKey marks test traffic (shadow, loadtest).
	TrafficTagKey = "x-traffic-tag"
	// CellKey is the user's cell ("0".."n-1").
	CellKey = "x-cell-id"
)

// Keys are the metadata keys this package propagates, in Route's order.
var Keys = [...]string{VersionKey, ExperimentKey, TrafficTagKey, CellKey}

// The HTTP headers the edge's plugins set (the edge strips clients' own).
const (
	VersionHeader    = "X-Tremolo-Version"
	ExperimentHeader = "X-Tremolo-Experiment"
	TrafficTagHeader = "X-Traffic-Tag"
	CellHeader       = "X-Cell-Id"
)

// maxLen bounds each value: they are copied into every downstream call.
const maxLen = 256

// Route is a request's routing attributes; empty fields are absent.
type Route struct {
	Version    string
	Experiment string
	TrafficTag string
	Cell       string
}

// IsZero reports whether r carries nothing.
func (r Route) IsZero() bool { return r == Route{} }

func (r *Route) fields() [len(Keys)]*string {
	return [...]*string{&r.Version, &r.Experiment, &r.TrafficTag, &r.Cell}
}

type ctxKey struct{}

// NewContext returns ctx carrying r; calls made with it forward r.
func NewContext(ctx context.Context, r Route) context.Context {
	if r.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, r)
}

// FromContext returns the Route of ctx (zero when none).
func FromContext(ctx context.Context) Route {
	r, _ := ctx.Value(ctxKey{}).(Route)
	return r
}

// FromHeader reads a Route from the headers the edge's plugins set.
func FromHeader(h http.Header) Route {
	r := Route{
		Version:    h.Get(VersionHeader),
		Experiment: h.Get(ExperimentHeader),
		TrafficTag: h.Get(TrafficTagHeader),
		Cell:       h.Get(CellHeader),
	}
	for _, f := range r.fields() {
		if !valid(*f) {
			*f = ""
		}
	}
	return r
}

// FromIncoming reads the Route a caller sent: the metadata is found once
// and indexed, not looked up key by key (package incoming).
func FromIncoming(ctx context.Context) Route {
	var r Route
	md := incoming.MD(ctx)
	if len(md) == 0 {
		return r
	}
	for i, f := range r.fields() {
		if v := md[Keys[i]]; len(v) > 0 && valid(v[0]) {
			*f = v[0]
		}
	}
	return r
}

// FromOutgoing reads the Route a call is about to send; balancers use it on
// the context they are given to pick with.
func FromOutgoing(ctx context.Context) Route {
	var r Route
	for i, f := range r.fields() {
		if v := metadata.ValueFromOutgoingContext(ctx, Keys[i]); len(v) > 0 {
			*f = v[len(v)-1]
		}
	}
	return r
}

// valid accepts printable ASCII without spaces, up to maxLen bytes, so a
// value cannot break a log line or a header.
func valid(v string) bool {
	if len(v) > maxLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// AppendOutgoing appends to kv the metadata pairs a call made with ctx
// forwards: ctx's Route, except keys the outgoing metadata already has (a
// caller that set one explicitly wins). platform/client adds them to the
// outgoing metadata together with the request id's and the user's, at
// once; the client interceptors below add them on their own.
func AppendOutgoing(ctx context.Context, kv []string) []string {
	r := FromContext(ctx)
	if r.IsZero() {
		return kv
	}
	for i, f := range r.fields() {
		if *f != "" && len(metadata.ValueFromOutgoingContext(ctx, Keys[i])) == 0 {
			kv = append(kv, Keys[i], *f)
		}
	}
	return kv
}

// outgoing adds ctx's Route to the outgoing metadata (AppendOutgoing).
func outgoing(ctx context.Context) context.Context {
	var buf [2 * len(Keys)]string
	if kv := AppendOutgoing(ctx, buf[:0]); len(kv) > 0 {
		return metadata.AppendToOutgoingContext(ctx, kv...)
	}
	return ctx
}

// UnaryServerInterceptor puts the caller's Route in the handler's context.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(NewContext(ctx, FromIncoming(ctx)), req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams.
func StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		r := FromIncoming(ss.Context())
		if r.IsZero() {
			return handler(srv, ss)
		}
		w := middleware.WrapServerStream(ss)
		w.WrappedContext = NewContext(ss.Context(), r)
		return handler(srv, w)
	}
}

// UnaryClientInterceptor forwards ctx's Route to the callee.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(outgoing(ctx), method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor forwards ctx's Route to the callee.
func StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(outgoing(ctx), desc, cc, method, opts...)
	}
}
