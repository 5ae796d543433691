package metrics

import (
	"context"

	"google.golang.org/grpc"

	"github.com/tremolo-dev/tremolo/platform/apierror"
)

// Lookup returns the series of a full method name, or nil for methods a
// service's interceptor does not cover. Generated code provides one per
// service as a switch over its method names.
type Lookup func(fullMethod string) *ServerMethod

// UnaryServerInterceptor records the methods lookup knows and passes others
// through untouched, so several services can share one server.
func UnaryServerInterceptor(lookup Lookup) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		m := lookup(info.FullMethod)
		if m == nil {
			return handler(ctx, req)
		}
		start := m.Start()
		m.Received()
		resp, err := handler(ctx, req)
		if err == nil {
			m.Sent()
		}
		code, reason := apierror.CodeAndReason(err)
		m.Done(start, code, reason)
		return resp, err
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming methods; it
// also counts every message received and sent.
func StreamServerInterceptor(lookup Lookup) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		m := lookup(info.FullMethod)
		if m == nil {
			return handler(srv, ss)
		}
		start := m.Start()
		err := handler(srv, &countingStream{ServerStream: ss, m: m})
		code, reason := apierror.CodeAndReason(err)
		m.Done(start, code, reason)
		return err
	}
}

type countingStream struct {
	grpc.ServerStream
	m *ServerMethod
}

func (s *countingStream) RecvMsg(msg any) error {
	err := s.ServerStream.RecvMsg(msg)
	if err == nil {
		s.m.Received()
	}
	return err
}

func (s *countingStream) SendMsg(msg any) error {
	err := s.ServerStream.SendMsg(msg)
	if err == nil {
		s.m.Sent()
	}
	return err
}
