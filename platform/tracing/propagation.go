package tracing

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/tremolo-dev/tremolo/platform/incoming"
)

// The W3C Trace Context keys: gRPC metadata keys are lower case, and HTTP
// headers are matched case-insensitively, so one spelling serves both.
const (
	traceparentKey = "traceparent"
	tracestateKey  = "tracestate"
)

// propagator is the one format spoken on every hop. It is used as a value,
// not installed with otel.SetTextMapPropagator: the platform's interceptors
// and middleware are the only code that moves trace context across
// processes, and a global would let any library change the format under
// them.
var propagator propagation.TraceContext

// extract returns ctx carrying the span context a caller sent in ctx's
// incoming metadata as the remote parent, or ctx itself when there is none
// or it is malformed (the span started next is then a new trace's root).
// A remote parent ctx has already wins: the in-process channel
// (server.LocalChannel) hands the caller's span context over as it is, and
// it is the span the callee's work belongs under, as the propagator makes
// it on the network.
func extract(ctx context.Context) context.Context {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && sc.IsRemote() {
		return ctx
	}
	md := incoming.MD(ctx)
	if len(md[traceparentKey]) == 0 {
		return ctx // a call from outside any trace: spare the propagator
	}
	return propagator.Extract(ctx, incomingCarrier(md))
}

// incomingCarrier reads the trace context keys of a call's incoming
// metadata in place (package incoming), for the propagator.
type incomingCarrier metadata.MD

func (c incomingCarrier) Get(key string) string { return single(key, c[key]) }

func (incomingCarrier) Set(string, string) {}

func (incomingCarrier) Keys() []string { return nil }

// headerCarrier is incomingCarrier for HTTP request headers, which
// net/http has put in canonical form.
type headerCarrier http.Header

func (h headerCarrier) Get(key string) string {
	switch key {
	case traceparentKey:
		return single(key, h[traceparentHeader])
	case tracestateKey:
		return single(key, h[tracestateHeader])
	}
	return single(key, http.Header(h).Values(key))
}

func (headerCarrier) Set(string, string) {}

func (headerCarrier) Keys() []string { return nil }

// single folds a key's values to the one string the propagator parses. A
// request with several traceparent values is ambiguous, so it has none (its
// span starts a new trace), as the W3C specification asks; several
// tracestate values are one list split across fields, so they are joined.
func single(key string, vs []string) string {
	switch {
	case len(vs) == 1:
		return vs[0]
	case len(vs) == 0 || key != tracestateKey:
		return ""
	default:
		return strings.Join(vs, ",")
	}
}

// inject returns ctx with its span context added to the outgoing metadata,
// so the callee's span is a child of ctx's. Usually the metadata has no
// trace context yet and the keys are appended, which copies nothing. If it
// has (a caller copied its incoming metadata, or set one by hand), the old
// values are replaced rather than joined by a second traceparent, which
// would make the callee start a new trace: the span in ctx is the one the
// callee's work belongs under.
func inject(ctx context.Context) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	var c outgoingCarrier
	propagator.Inject(ctx, &c)
	if len(metadata.ValueFromOutgoingContext(ctx, traceparentKey)) == 0 &&
		len(metadata.ValueFromOutgoingContext(ctx, tracestateKey)) == 0 {
		return metadata.AppendToOutgoingContext(ctx, c.kv[:c.n]...)
	}
	md, _ := metadata.FromOutgoingContext(ctx) // a copy, safe to change
	md.Delete(traceparentKey)
	md.Delete(tracestateKey)
	for i := 0; i < c.n; i += 2 {
		md.Set(c.kv[i], c.kv[i+1])
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// outgoingCarrier collects what the propagator injects: traceparent and,
// when the span context has one, tracestate.
type outgoingCarrier struct {
	kv [4]string
	n  int
}

func (c *outgoingCarrier) Get(string) string { return "" }

func (c *outgoingCarrier) Set(key, value string) {
	if c.n < len(c.kv) {
		c.kv[c.n], c.kv[c.n+1] = key, value
		c.n += 2
	}
}

func (c *outgoingCarrier) Keys() []string { return nil }

// The canonical HTTP header names of the trace context keys. Traceparent
// is also the response header telling an HTTP client which trace its
// request joined: the one id an app needs to report a problem.
const (
	traceparentHeader = "Traceparent"
	tracestateHeader  = "Tracestate"
)

// responseCarrier writes only traceparent into response headers: tracestate
// is vendor data for downstream tracers, of no use to the client.
type responseCarrier http.Header

func (h responseCarrier) Get(string) string { return "" }

func (h responseCarrier) Set(key, value string) {
	if key == traceparentKey {
		http.Header(h)[traceparentHeader] = []string{value}
	}
}

func (h responseCarrier) Keys() []string { return nil }
