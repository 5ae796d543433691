// Package auth carries the verified caller through a request: the edge
// verifies the app's token and puts the user id in the context; the platform's
// clients send it to services as gRPC metadata; servers read it back and
// refuse methods declared AUTH_USER (tremolo.options.v1.MethodRules.auth)
// when it is missing.
//
// Services trust the metadata: only the edge, which verified a token, sets
// it. That makes the service network a trust boundary; services must not be
// exposed to the app directly (the edge refuses AUTH_INTERNAL methods).
package auth

import (
	"context"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/incoming"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// MetadataKey is the gRPC metadata key of the verified user id.
const MetadataKey = "x-tremolo-user-id"

type ctxKey struct{}

// WithUser returns ctx carrying the verified user id. Calls made with it
// through the platform's clients carry the id to the callee.
func WithUser(ctx context.Context, userID int64) context.Context {
	return context.WithValue(ctx, ctxKey{}, userID)
}

// UserID returns the verified user of the request, if there is one.
func UserID(ctx context.Context) (int64, bool) {
	id, ok := ctx.Value(ctxKey{}).(int64)
	return id, ok && id > 0
}

// Require returns the verified user, or the platform's UNAUTHENTICATED
// error for a handler that needs one.
func Require(ctx context.Context) (int64, error) {
	if id, ok := UserID(ctx); ok {
		return id, nil
	}
	return 0, apierror.Platform(codes.Unauthenticated).Err()
}

// fromIncoming reads the user id from the metadata. Repeated identical
// values (two hops that both set it) are one id; differing values are
// refused, as nothing legitimate sends them.
func fromIncoming(ctx context.Context) (int64, bool) {
	v := incoming.MD(ctx)[MetadataKey]
	if len(v) == 0 {
		return 0, false
	}
	for _, other := range v[1:] {
		if other != v[0] {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(v[0], 10, 64)
	return id, err == nil && id > 0
}

// UnaryServerInterceptor puts the caller's user id from the metadata into the
// handler's context, and refuses AUTH_USER methods of table without one. A
// handler's context that already holds a user keeps it: only this process's
// own code sets that value, and a server's context starts without values
// (a REST request entering in-process, server.LocalChannel.Entry, runs on
// its own context, where Middleware put the user it verified).
func UnaryServerInterceptor(table rpc.Table) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := serverContext(ctx, table, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams.
func StreamServerInterceptor(table rpc.Table) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := serverContext(ss.Context(), table, info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

func serverContext(ctx context.Context, table rpc.Table, method string) (context.Context, error) {
	if id, ok := fromIncoming(ctx); ok {
		return WithUser(ctx, id), nil
	}
	if _, ok := UserID(ctx); ok {
		return ctx, nil
	}
	if m, ok := table[method]; ok && m.Auth == rpc.AuthUser {
		return nil, apierror.Platform(codes.Unauthenticated).Err()
	}
	return ctx, nil
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// AppendOutgoing appends to kv the metadata pair a call made with ctx
// sends: the verified user, unless the outgoing metadata has one already
// (grpc-gateway's annotator sets it for REST calls). platform/client adds
// it to the outgoing metadata together with the request id's and the
// routing attributes' pairs, at once, on every call it makes.
func AppendOutgoing(ctx context.Context, kv []string) []string {
	id, ok := UserID(ctx)
	if !ok {
		return kv
	}
	// ValueFromOutgoingContext looks the key up where FromOutgoingContext
	// would copy the whole metadata first, on every call.
	if len(metadata.ValueFromOutgoingContext(ctx, MetadataKey)) > 0 {
		return kv
	}
	return append(kv, MetadataKey, strconv.FormatInt(id, 10))
}
