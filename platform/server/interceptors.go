package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/requestid"
	"github.com/tremolo-dev/tremolo/platform/routing"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// serverChains are a server's interceptors: unary and stream as the
// grpc.Server runs them (the services' own interceptors through
// perServiceUnary and perServiceStream), and the unary interceptors on
// either side of the services' own, from which the in-process channel
// builds each service's chain once (unaryOf, entryOf).
type serverChains struct {
	unary         []grpc.UnaryServerInterceptor
	stream        []grpc.StreamServerInterceptor
	before, after []grpc.UnaryServerInterceptor
	// entryBefore replaces before for the gateway's entry calls (entryOf).
	entryBefore []grpc.UnaryServerInterceptor
}

// unaryOf is the unary chain of svc's calls, its own interceptors in place.
func (c serverChains) unaryOf(svc Service) []grpc.UnaryServerInterceptor {
	return slices.Concat(c.before, svc.Unary, c.after)
}

// entryOf is the unary chain of the gateway's calls into svc
// (LocalChannel.Entry): the handler runs on the REST request's own context,
// which the HTTP middlewares gave its request id, verified user and span,
// so the interceptors that read those from the metadata into a context of
// the callee's (the request id's, Interceptors.Unary's tracing) do not run;
// the routing attributes, which come as headers, and everything from the
// service's own interceptors on (metrics, errors, recovery, the guards,
// auth, the deadline) do.
func (c serverChains) entryOf(svc Service) []grpc.UnaryServerInterceptor {
	return slices.Concat(c.entryBefore, svc.Unary, c.after)
}

// chain builds the interceptor chains described in the package comment.
func chain(logger *slog.Logger, table rpc.Table, services []Service, extra Interceptors) serverChains {
	onPanic := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in handler", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		return apierror.Internal(fmt.Errorf("panic: %v", p))
	})
	route := routing.UnaryServerInterceptor()
	before := append([]grpc.UnaryServerInterceptor{requestid.UnaryServerInterceptor(), route}, extra.Unary...)
	stream := append([]grpc.StreamServerInterceptor{requestid.StreamServerInterceptor(), routing.StreamServerInterceptor()}, extra.Stream...)
	after := []grpc.UnaryServerInterceptor{
		apierror.UnaryServerInterceptor(logger),
		recovery.UnaryServerInterceptor(onPanic),
	}
	after = append(append(after, extra.GuardUnary...), auth.UnaryServerInterceptor(table), timeoutUnary(table))
	stream = append(stream, perServiceStream(services),
		apierror.StreamServerInterceptor(logger),
		recovery.StreamServerInterceptor(onPanic),
	)
	stream = append(append(stream, extra.GuardStream...), auth.StreamServerInterceptor(table), timeoutStream(table))
	return serverChains{
		unary:       slices.Concat(before, []grpc.UnaryServerInterceptor{perServiceUnary(services)}, after),
		stream:      stream,
		before:      before,
		after:       after,
		entryBefore: []grpc.UnaryServerInterceptor{route},
	}
}

// perServiceUnary runs the interceptors a service contributed only for that
// service's methods. Chaining every service's interceptors for every call
// would make each RPC of an all-in-one process pass through all of them (and
// the deeper call stacks cost stack growth: ~10% of a feed request's CPU).
func perServiceUnary(services []Service) grpc.UnaryServerInterceptor {
	byService := map[string]grpc.UnaryServerInterceptor{}
	for _, s := range services {
		if len(s.Unary) > 0 {
			byService[s.Desc.ServiceName] = chainUnary(s.Unary)
		}
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if icpt, ok := byService[serviceOf(info.FullMethod)]; ok {
			return icpt(ctx, req, info, handler)
		}
		return handler(ctx, req)
	}
}

// perServiceStream is perServiceUnary for streams.
func perServiceStream(services []Service) grpc.StreamServerInterceptor {
	byService := map[string]grpc.StreamServerInterceptor{}
	for _, s := range services {
		if len(s.Stream) > 0 {
			byService[s.Desc.ServiceName] = chainStream(s.Stream)
		}
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if icpt, ok := byService[serviceOf(info.FullMethod)]; ok {
			return icpt(srv, ss, info, handler)
		}
		return handler(srv, ss)
	}
}

// serviceOf returns "pkg.Service" of "/pkg.Service/Method".
func serviceOf(fullMethod string) string {
	if i := strings.LastIndexByte(fullMethod, '/'); i > 0 {
		return fullMethod[1:i]
	}
	return ""
}

func chainUnary(is []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if len(is) == 1 {
		return is[0]
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		next := handler
		for i := len(is) - 1; i > 0; i-- {
			icpt, h := is[i], next
			next = func(ctx context.Context, req any) (any, error) { return icpt(ctx, req, info, h) }
		}
		return is[0](ctx, req, info, next)
	}
}

func chainStream(is []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	if len(is) == 1 {
		return is[0]
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		next := handler
		for i := len(is) - 1; i > 0; i-- {
			icpt, h := is[i], next
			next = func(srv any, ss grpc.ServerStream) error { return icpt(srv, ss, info, h) }
		}
		return is[0](srv, ss, info, next)
	}
}

// timeoutUnary gives the handler the method's declared deadline, or keeps
// the caller's when that is as tight. Skipping the redundant timer matters:
// a timer per call cost about 6% of a small unary RPC's throughput here, and
// the platform's clients always send a deadline.
func timeoutUnary(table rpc.Table) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if m, ok := table[info.FullMethod]; ok && needsDeadline(ctx, m.Timeout) {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, m.Timeout)
			defer cancel()
		}
		return handler(ctx, req)
	}
}

func timeoutStream(table rpc.Table) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if m, ok := table[info.FullMethod]; ok && needsDeadline(ss.Context(), m.Timeout) {
			ctx, cancel := context.WithTimeout(ss.Context(), m.Timeout)
			defer cancel()
			ss = &ctxStream{ServerStream: ss, ctx: ctx}
		}
		return handler(srv, ss)
	}
}

// needsDeadline reports whether a method timeout would shorten ctx's deadline.
func needsDeadline(ctx context.Context, timeout time.Duration) bool {
	if timeout <= 0 {
		return false
	}
	d, ok := ctx.Deadline()
	return !ok || time.Until(d) > timeout
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }
