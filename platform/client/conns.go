package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/fullstorydev/grpchan"
	"go.uber.org/fx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/requestid"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// Local is how services of one process reach each other; the server module
// provides it. Calls go through Channel, in-process, unless Config.Loopback
// asks for the process's own gRPC port, whose address Addr waits for.
type Local struct {
	// Channel carries calls in-process (server.LocalChannel).
	Channel grpc.ClientConnInterface
	// Shared is Channel without copies, for Gateway.
	Shared grpc.ClientConnInterface
	// Addr returns the address of this process's gRPC server, waiting
	// until it listens.
	Addr func(ctx context.Context) (string, error)
}

func (l Local) usable(loopback bool) bool {
	if loopback {
		return l.Addr != nil
	}
	return l.Channel != nil || l.Addr != nil
}

// Conns hands out one shared connection per service. It is safe for
// concurrent use.
type Conns struct {
	cfg   Config
	local Local
	opts  []grpc.DialOption

	mu     sync.Mutex
	conns  map[string]grpc.ClientConnInterface
	dialed []*grpc.ClientConn
	closed bool
}

// New returns Conns for cfg. local is the zero Local in a process without a
// gRPC server; extra dial options are added to every network connection.
func New(cfg Config, local Local, extra ...grpc.DialOption) *Conns {
	return &Conns{cfg: cfg, local: local, opts: extra, conns: map[string]grpc.ClientConnInterface{}}
}

// Conn returns the connection to a service, creating it on first use.
// Connecting is lazy: a service that is down makes calls fail, not Conn.
// methods are the service's generated method table; their timeouts apply
// to calls whose context has no deadline.
func (c *Conns) Conn(service string, methods []rpc.Method) (grpc.ClientConnInterface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("client: connection to %q requested after shutdown", service)
	}
	if cc, ok := c.conns[service]; ok {
		return cc, nil
	}
	table, err := rpc.NewTable(methods)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", service, err)
	}
	unary, stream := interceptors(table)
	target, ok := c.cfg.Targets[service]
	if !ok && !c.local.usable(c.cfg.Loopback) {
		return nil, fmt.Errorf("client: no target for service %q: set -target %s=host:port", service, service)
	}
	if !ok && (!c.cfg.Loopback || c.local.Addr == nil) && c.local.Channel != nil {
		cc := grpchan.InterceptClientConnStream(grpchan.InterceptClientConnUnary(c.local.Channel, unary...), stream...)
		c.conns[service] = cc
		return cc, nil
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...),
	}
	if !ok {
		addr := c.local.Addr
		target = "passthrough:///" + service
		opts = append(opts, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			addr, err := addr(ctx)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}))
	}
	cc, err := grpc.NewClient(target, append(opts, c.opts...)...)
	if err != nil {
		return nil, fmt.Errorf("client: service %q at %q: %w", service, target, err)
	}
	c.conns[service] = cc
	c.dialed = append(c.dialed, cc)
	return cc, nil
}

// Gateway returns the connection a grpc-gateway mux uses to call a
// service: Conn's, except for a service of this process called in-process,
// where messages cross without copies (the gateway's generated handlers
// decode a fresh request per HTTP request and only marshal the reply).
func (c *Conns) Gateway(service string, methods []rpc.Method) (grpc.ClientConnInterface, error) {
	_, remote := c.cfg.Targets[service]
	if remote || c.cfg.Loopback || c.local.Shared == nil {
		return c.Conn(service, methods)
	}
	table, err := rpc.NewTable(methods)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", service, err)
	}
	unary, stream := interceptors(table)
	return grpchan.InterceptClientConnStream(grpchan.InterceptClientConnUnary(c.local.Shared, unary...), stream...), nil
}

// interceptors are the client interceptors of every call.
func interceptors(table rpc.Table) ([]grpc.UnaryClientInterceptor, []grpc.StreamClientInterceptor) {
	return []grpc.UnaryClientInterceptor{
			requestid.UnaryClientInterceptor(),
			auth.UnaryClientInterceptor(),
			timeoutInterceptor(table),
			apierror.UnaryClientInterceptor(),
		}, []grpc.StreamClientInterceptor{
			requestid.StreamClientInterceptor(),
			auth.StreamClientInterceptor(),
			apierror.StreamClientInterceptor(),
		}
}

// Close closes every connection; later Conn calls fail.
func (c *Conns) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, cc := range c.dialed {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("client: closing the connection to %s: %w", cc.Target(), err))
		}
	}
	return errors.Join(errs...)
}

// timeoutInterceptor applies the callee's declared timeout to calls whose
// context has no deadline, so a caller that forgot one cannot hang forever.
func timeoutInterceptor(table rpc.Table) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, has := ctx.Deadline(); !has {
			if m, ok := table[method]; ok && m.Timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, m.Timeout)
				defer cancel()
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// Params are the fx inputs of the module's constructor.
type Params struct {
	fx.In

	Config    Config
	Local     Local `optional:"true"`
	Lifecycle fx.Lifecycle
}

// Module provides *Conns, closed when the app stops.
var Module = fx.Module("tremolo.client",
	fx.Provide(func(p Params) *Conns {
		c := New(p.Config, p.Local)
		p.Lifecycle.Append(fx.StopHook(c.Close))
		return c
	}),
)
