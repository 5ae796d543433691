package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"go.uber.org/fx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/requestid"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// Local returns the address of this process's own gRPC server, waiting until
// it listens. The server module provides it; it is how services call each
// other when they run in one process.
type Local func(ctx context.Context) (string, error)

// Conns hands out one shared connection per service. It is safe for
// concurrent use.
type Conns struct {
	cfg   Config
	local Local
	opts  []grpc.DialOption

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	closed bool
}

// New returns Conns for cfg. local may be nil in a process without a gRPC
// server; extra dial options are added to every connection.
func New(cfg Config, local Local, extra ...grpc.DialOption) *Conns {
	return &Conns{cfg: cfg, local: local, opts: extra, conns: map[string]*grpc.ClientConn{}}
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
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(
			requestid.UnaryClientInterceptor(),
			auth.UnaryClientInterceptor(),
			timeoutInterceptor(table),
			apierror.UnaryClientInterceptor(),
		),
		grpc.WithChainStreamInterceptor(
			requestid.StreamClientInterceptor(),
			auth.StreamClientInterceptor(),
			apierror.StreamClientInterceptor(),
		),
	}
	target, ok := c.cfg.Targets[service]
	if !ok {
		if c.local == nil {
			return nil, fmt.Errorf("client: no target for service %q: set -target %s=host:port", service, service)
		}
		local := c.local
		target = "passthrough:///" + service
		opts = append(opts, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			addr, err := local(ctx)
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
	return cc, nil
}

// Close closes every connection; later Conn calls fail.
func (c *Conns) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for name, cc := range c.conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("client: closing %s: %w", name, err))
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
