package client

import (
	"context"

	"github.com/fullstorydev/grpchan"
	"google.golang.org/grpc"
)

// intercepted returns cc with the unary and stream interceptors in front of
// its calls, the first outermost.
//
// The unary chain is built once, here, rather than for every call as
// grpc-go's and grpchan's chains build it: an invoker passes every per-call
// value (method, messages, options) to the next as arguments, so each
// link's next invoker is fixed and no closure is made per call. In-process
// calls are cheap enough (a few µs) that those closures, five or six a call
// and one for grpchan's invoker, were a tenth of a call's allocations.
// Streams keep grpchan's chain: they are few and long.
func intercepted(cc grpc.ClientConnInterface, unary []grpc.UnaryClientInterceptor, stream []grpc.StreamClientInterceptor) grpc.ClientConnInterface {
	var out grpc.ClientConnInterface = cc
	if len(unary) > 0 {
		out = &unaryChain{ClientConnInterface: cc, invoke: chainUnaryInvoker(cc, unary)}
	}
	return grpchan.InterceptClientConnStream(out, stream...)
}

// unaryChain runs a prebuilt chain of unary client interceptors; streams go
// straight to the ClientConnInterface.
type unaryChain struct {
	grpc.ClientConnInterface
	invoke grpc.UnaryInvoker
}

func (c *unaryChain) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	return c.invoke(ctx, method, req, reply, nil, opts...)
}

// chainUnaryInvoker returns an invoker that runs is, in order, and then
// cc's Invoke. The interceptors see cc as their *grpc.ClientConn when it is
// one, and nil otherwise (an in-process channel), as with grpchan.
func chainUnaryInvoker(cc grpc.ClientConnInterface, is []grpc.UnaryClientInterceptor) grpc.UnaryInvoker {
	conn, _ := cc.(*grpc.ClientConn)
	next := grpc.UnaryInvoker(func(ctx context.Context, method string, req, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		return cc.Invoke(ctx, method, req, reply, opts...)
	})
	for i := len(is) - 1; i >= 0; i-- {
		icpt, inner := is[i], next
		next = func(ctx context.Context, method string, req, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
			return icpt(ctx, method, req, reply, conn, inner, opts...)
		}
	}
	return next
}
