package apierror

import (
	"context"
	"io"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// AcceptLanguageKey is the gRPC metadata key (and HTTP header, which the
// platform's gateway forwards) a caller sets to receive localized messages.
const AcceptLanguageKey = "accept-language"

// UnaryServerInterceptor converts whatever a handler returns into the status
// ToStatus describes, and logs the error at its spec's level with the cause
// the caller does not see. Install it inside the metrics interceptor so that
// metrics see the final code.
func UnaryServerInterceptor(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return nil, convert(ctx, logger, info.FullMethod, err)
		}
		return resp, nil
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming RPCs.
func StreamServerInterceptor(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := handler(srv, ss); err != nil {
			return convert(ss.Context(), logger, info.FullMethod, err)
		}
		return nil
	}
}

func convert(ctx context.Context, logger *slog.Logger, method string, err error) error {
	e := asError(err)
	if logger.Enabled(ctx, e.spec.LogLevel) {
		attrs := []slog.Attr{
			slog.String("rpc.method", method),
			slog.String("error.code", e.spec.Code.String()),
			slog.String("error.reason", e.spec.Reason),
			slog.String("error.domain", e.spec.Domain),
			slog.String("error", err.Error()),
		}
		logger.LogAttrs(ctx, e.spec.LogLevel, "rpc failed", attrs...)
	}
	return e.status(acceptLanguage(ctx)).Err()
}

func acceptLanguage(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, AcceptLanguageKey); len(v) > 0 {
		return v[0]
	}
	return ""
}

// UnaryClientInterceptor turns the status errors a call returns into *Error,
// so that callers use errors.As, Is<Reason> helpers and Spec fields instead
// of parsing statuses. A service that returns such an error unchanged
// propagates it to its own caller with the same reason.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
			if e, ok := FromError(err); ok {
				return e.PassedOn() // the callee's, not this process's
			}
			return err
		}
		return nil
	}
}

// StreamClientInterceptor converts the error of opening a stream; errors
// returned later by RecvMsg are converted too.
func StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			if e, ok := FromError(err); ok {
				return nil, e.PassedOn()
			}
			return nil, err
		}
		return &clientStream{ClientStream: cs}, nil
	}
}

type clientStream struct{ grpc.ClientStream }

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil || err == io.EOF {
		return err
	}
	if e, ok := FromError(err); ok {
		return e.PassedOn()
	}
	return err
}
