package tracing

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// UnaryServerInterceptor gives each call a server span, child of the span
// context the caller sent in its metadata (traceparent, tracestate) or the
// root of a new trace when there is none or it is malformed, and puts it in
// the handler's context: logs and calls made with that context carry its
// ids. It reads metadata rather than using a gRPC stats handler so that
// calls over an in-process channel, which have no stats handlers, are
// traced too.
func UnaryServerInterceptor(tp trace.TracerProvider) grpc.UnaryServerInterceptor {
	tr := tp.Tracer(scopeName)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, span := startServer(ctx, tr, info.FullMethod)
		done := false
		defer func() {
			if !done {
				endPanicked(span)
			}
		}()
		resp, err := handler(ctx, req)
		done = true
		endRPC(span, err, true)
		return resp, err
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams; the span
// lasts until the handler returns.
func StreamServerInterceptor(tp trace.TracerProvider) grpc.StreamServerInterceptor {
	tr := tp.Tracer(scopeName)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, span := startServer(ss.Context(), tr, info.FullMethod)
		done := false
		defer func() {
			if !done {
				endPanicked(span)
			}
		}()
		err := handler(srv, &serverStream{ServerStream: ss, ctx: ctx})
		done = true
		endRPC(span, err, true)
		return err
	}
}

// startServer starts the server span of a call to fullMethod. Attributes
// are only built for spans that record them.
func startServer(ctx context.Context, tr trace.Tracer, fullMethod string) (context.Context, trace.Span) {
	name := rpcName(fullMethod)
	ctx, span := tr.Start(extract(ctx), name, serverKind...)
	if span.IsRecording() {
		tag, cell := incomingRouting(ctx)
		setRPCAttrs(span, name, tag, cell)
	}
	return ctx, span
}

// serverStream gives a stream's handler the context holding its span.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }
