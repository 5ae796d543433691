package tracing

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tremolo-dev/tremolo/platform/incoming"
	"github.com/tremolo-dev/tremolo/platform/routing"
)

// scopeName is the instrumentation scope of every span this package
// starts, so a backend can tell platform spans from a service's own.
const scopeName = "github.com/tremolo-dev/tremolo/platform/tracing"

// The routing attributes spans carry when a request has them (package
// routing): test traffic and a user's cell are what an engineer filters
// traces by when a canary or one cell misbehaves.
const (
	// TrafficTagKey is the request's traffic tag (shadow, loadtest).
	TrafficTagKey = attribute.Key("tremolo.traffic_tag")
	// CellKey is the user's cell.
	CellKey = attribute.Key("tremolo.cell")
)

// maxAttrLen bounds attribute values taken from a request (paths, routing
// values): they come from callers and are exported with every span.
const maxAttrLen = 256

// Span start options, built once: passing them as a slice allocates
// nothing per call.
var (
	serverKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	clientKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
)

// rpcName is a gRPC span's name and rpc.method: the full method without
// its leading slash ("tremolo.user.v1.UserService/GetUser"), as the
// semantic conventions of otel v1.47 (semconv v1.43) name it.
func rpcName(fullMethod string) string {
	if len(fullMethod) > 0 && fullMethod[0] == '/' {
		return fullMethod[1:]
	}
	return fullMethod
}

// setRPCAttrs adds a gRPC span's attributes. Under semconv v1.43,
// rpc.system is rpc.system.name and rpc.service is folded into rpc.method.
func setRPCAttrs(span trace.Span, name string, tag, cell string) {
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, semconv.RPCSystemNameGRPC, semconv.RPCMethod(name))
	attrs = appendRouting(attrs, tag, cell)
	span.SetAttributes(attrs...)
}

// appendRouting adds the routing attributes that are present and sane.
func appendRouting(attrs []attribute.KeyValue, tag, cell string) []attribute.KeyValue {
	if tag != "" && len(tag) <= maxAttrLen {
		attrs = append(attrs, TrafficTagKey.String(tag))
	}
	if cell != "" && len(cell) <= maxAttrLen {
		attrs = append(attrs, CellKey.String(cell))
	}
	return attrs
}

// incomingRouting reads the routing values a caller sent, in place
// (package incoming).
func incomingRouting(ctx context.Context) (tag, cell string) {
	md := incoming.MD(ctx)
	return first(md[routing.TrafficTagKey]), first(md[routing.CellKey])
}

// outgoingRouting reads the routing values a call forwards: those of the
// handler's context (routing's server interceptor put them there), or
// those already in the outgoing metadata.
func outgoingRouting(ctx context.Context) (tag, cell string) {
	r := routing.FromContext(ctx)
	tag, cell = r.TrafficTag, r.Cell
	if tag == "" {
		tag = last(metadata.ValueFromOutgoingContext(ctx, routing.TrafficTagKey))
	}
	if cell == "" {
		cell = last(metadata.ValueFromOutgoingContext(ctx, routing.CellKey))
	}
	return tag, cell
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func last(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// codeNames are the gRPC codes as rpc.response.status_code spells them.
var codeNames = [...]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

func codeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return strconv.FormatUint(uint64(c), 10)
}

// serverFault reports whether a server span with code c failed. The codes
// a caller causes (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED...) are
// the server doing its job, so they leave the span's status unset; only
// these mark it as an error, as the semantic conventions say.
func serverFault(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented,
		codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// statusOf is the status a handler's or a call's error stands for, read
// as grpc-go reads it: a status error's own, a context error's code, or
// UNKNOWN.
func statusOf(err error) *status.Status {
	if s, ok := status.FromError(err); ok {
		return s
	}
	return status.FromContextError(err)
}

// endRPC records err's status on span and ends it. A client span fails on
// any code but OK (its caller did not get what it asked for); a server
// span only on the server-side codes of serverFault.
func endRPC(span trace.Span, err error, server bool) {
	if span.IsRecording() {
		c := codes.OK
		var s *status.Status
		if err != nil {
			s = statusOf(err)
			c = s.Code()
		}
		name := codeName(c)
		if c == codes.OK || (server && !serverFault(c)) {
			span.SetAttributes(semconv.RPCResponseStatusCode(name))
		} else {
			span.SetAttributes(semconv.RPCResponseStatusCode(name), semconv.ErrorTypeKey.String(name))
			span.SetStatus(otelcodes.Error, s.Message())
		}
	}
	span.End()
}

// endPanicked ends the span of a handler that panicked, so the span is
// exported even though the stack unwinds past the code that would have
// ended it; whoever recovers decides what the caller gets.
func endPanicked(span trace.Span) {
	span.SetStatus(otelcodes.Error, "panic")
	span.End()
}
