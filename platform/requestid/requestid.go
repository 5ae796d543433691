// Package requestid gives every request an id that follows it through logs,
// responses and downstream calls: taken from the caller when it sends a
// sensible one (x-request-id), made up otherwise.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Key is the gRPC metadata key; Header the HTTP header.
const (
	Key    = "x-request-id"
	Header = "X-Request-Id"
)

// maxLen bounds ids accepted from callers: they end up in every log line.
const maxLen = 128

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the request id in ctx, or "".
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns a fresh random id (32 hex digits).
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// valid accepts caller-supplied ids of printable ASCII without spaces, so a
// caller cannot inject line breaks or quotes into logs.
func valid(id string) bool {
	if id == "" || len(id) > maxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

func orNew(id string) string {
	if valid(id) {
		return id
	}
	return New()
}

func fromIncoming(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, Key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// UnaryServerInterceptor puts the request id in the handler's context and
// sends it back in the response header.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id := orNew(fromIncoming(ctx))
		_ = grpc.SetHeader(ctx, metadata.Pairs(Key, id)) // fails only once headers are sent, which cannot have happened yet
		return handler(NewContext(ctx, id), req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams.
func StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		id := orNew(fromIncoming(ss.Context()))
		_ = ss.SetHeader(metadata.Pairs(Key, id))
		return handler(srv, &stream{ServerStream: ss, ctx: NewContext(ss.Context(), id)})
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// UnaryClientInterceptor forwards the request id of ctx to the callee.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if id := FromContext(ctx); id != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, Key, id)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor forwards the request id of ctx to the callee.
func StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if id := FromContext(ctx); id != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, Key, id)
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}

// Middleware gives HTTP requests an id (from X-Request-Id when valid) in
// their context and echoes it in the response.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := orNew(r.Header.Get(Header))
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
	})
}
