package tracing

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// UnaryClientInterceptor gives each call a client span, child of the span
// in ctx, and sends its span context to the callee in the outgoing
// metadata, so the callee's server span is the client span's child. It is
// for calls that leave the process, whose client span shows the time the
// network and the callee's queue take; calls to a service of the same
// process take UnaryClientPropagator. It works over any connection,
// in-process channels included (cc is not used; grpchan passes nil).
func UnaryClientInterceptor(tp trace.TracerProvider) grpc.UnaryClientInterceptor {
	tr := tp.Tracer(scopeName)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, span := startClient(ctx, tr, method)
		done := false
		defer func() {
			if !done {
				endPanicked(span)
			}
		}()
		err := invoker(inject(ctx), method, req, reply, cc, opts...)
		done = true
		endRPC(span, err, false)
		return err
	}
}

// StreamClientInterceptor is UnaryClientInterceptor for streams. The span
// ends when the stream does, as the caller learns it: when RecvMsg returns
// an error (io.EOF is success), after the one response of a stream whose
// server does not stream, when Header fails, or, for a caller that stops
// reading early, when ctx is cancelled or its deadline passes. A caller
// that does none of these leaks the stream anyway (gRPC's own rule); its
// span is then never ended, nor exported.
func StreamClientInterceptor(tp trace.TracerProvider) grpc.StreamClientInterceptor {
	tr := tp.Tracer(scopeName)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, span := startClient(ctx, tr, method)
		cs, err := streamer(inject(ctx), desc, cc, method, opts...)
		if err != nil {
			endRPC(span, err, false)
			return nil, err
		}
		if !span.IsRecording() {
			span.End() // nothing to record: spare the wrapper
			return cs, nil
		}
		s := &clientStream{ClientStream: cs, span: span, serverStreams: desc.ServerStreams}
		s.stop = context.AfterFunc(ctx, func() {
			if !s.ended.Swap(true) {
				endRPC(span, status.FromContextError(ctx.Err()).Err(), false)
			}
		})
		return s, nil
	}
}

// UnaryClientPropagator sends the span context in ctx to the callee in the
// outgoing metadata, without a span of its own, so the callee's server
// span is the direct child of the caller's span. It is for calls to a
// service of the same process, over the in-process channel: there a client
// span would time the same work as the server span beneath it, with
// nothing between them to show (no network, no queue), and would cost a
// span start per call. platform/client says which connections those are.
// (The platform's own in-process channel, server.LocalChannel, hands the
// span context over itself for unary calls: platform/app gives this to
// streams only.)
func UnaryClientPropagator() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(inject(ctx), method, req, reply, cc, opts...)
	}
}

// StreamClientPropagator is UnaryClientPropagator for streams.
func StreamClientPropagator() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(inject(ctx), desc, cc, method, opts...)
	}
}

// startClient starts the client span of a call to method.
func startClient(ctx context.Context, tr trace.Tracer, method string) (context.Context, trace.Span) {
	name := rpcName(method)
	ctx, span := tr.Start(ctx, name, clientKind...)
	if span.IsRecording() {
		tag, cell := outgoingRouting(ctx)
		setRPCAttrs(span, name, tag, cell)
	}
	return ctx, span
}

// clientStream ends its span when the stream ends.
type clientStream struct {
	grpc.ClientStream
	span          trace.Span
	serverStreams bool
	stop          func() bool
	ended         atomic.Bool
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case errors.Is(err, io.EOF):
		s.end(nil)
	case err != nil:
		s.end(err)
	case !s.serverStreams:
		s.end(nil)
	}
	return err
}

func (s *clientStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	if err != nil {
		s.end(err)
	}
	return md, err
}

// end ends the span unless ctx's end did first, and forgets ctx.
func (s *clientStream) end(err error) {
	if s.ended.Swap(true) {
		return
	}
	s.stop()
	endRPC(s.span, err, false)
}
