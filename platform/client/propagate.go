package client

import (
	"context"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/requestid"
)

// propagateUnary sends the request id and the verified user of ctx to the
// callee as metadata, as requestid's and auth's client interceptors do one
// after the other, in a single addition to the outgoing metadata: one
// context and one interceptor per call instead of two, on every hop of
// every request.
func propagateUnary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(propagate(ctx), method, req, reply, cc, opts...)
	}
}

// propagate adds what ctx carries and its outgoing metadata lacks.
func propagate(ctx context.Context) context.Context {
	var kv [4]string
	n := 0
	if id := requestid.FromContext(ctx); id != "" && len(metadata.ValueFromOutgoingContext(ctx, requestid.Key)) == 0 {
		kv[0], kv[1] = requestid.Key, id
		n = 2
	}
	if user, ok := auth.UserID(ctx); ok && len(metadata.ValueFromOutgoingContext(ctx, auth.MetadataKey)) == 0 {
		kv[n], kv[n+1] = auth.MetadataKey, strconv.FormatInt(user, 10)
		n += 2
	}
	if n == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv[:n]...)
}
