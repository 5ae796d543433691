package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"go.uber.org/fx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/internal/callmd"
	"github.com/tremolo-dev/tremolo/platform/requestid"
	"github.com/tremolo-dev/tremolo/platform/routing"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// Local is how services of one process reach each other; the server module
// provides it. Calls go through Channel, in-process, unless Config.Loopback
// asks for the process's own gRPC port, whose address Addr waits for.
type Local struct {
	// Channel carries calls in-process (server.LocalChannel).
	Channel grpc.ClientConnInterface
	// Entry is the channel through which Gateway enters the services of
	// this process (server.LocalChannel.Entry): the REST request's own
	// context crosses, and messages are not copied.
	Entry grpc.ClientConnInterface
	// Addr returns the address of this process's gRPC server, waiting
	// until it listens.
	Addr func(ctx context.Context) (string, error)
	// Serves reports whether this process serves a gRPC service (by full
	// name), waiting until the server is built. With Options.Discovery,
	// services it does not serve are found through discovery instead of
	// being called in-process.
	Serves func(ctx context.Context, fullService string) (bool, error)
}

func (l Local) usable(loopback bool) bool {
	if loopback {
		return l.Addr != nil
	}
	return l.Channel != nil || l.Addr != nil
}

// Options are New's optional inputs: what the governance modules add.
type Options struct {
	// Discovery resolves "tremolo:///<service>" targets (platform/discovery's
	// resolver). With it, a service that has no -target and that this
	// process does not serve is reached through discovery; without it, such
	// a service is called in-process (the all-in-one mode).
	Discovery resolver.Builder
	// ServiceConfig is the default gRPC service config of connections made
	// through Discovery: the load-balancing policy (platform/balancer).
	ServiceConfig string
	// Middleware returns the interceptors a connection's callers run on
	// every call to a service (tracing, circuit breakers, retries), after
	// the deadline is set and before errors are decoded; path is the way
	// the connection's calls take. It is called once per connection, when
	// the path is known: for a service found through discovery, at the
	// connection's first call. Nil adds none.
	Middleware func(service string, table rpc.Table, path Path) ([]grpc.UnaryClientInterceptor, []grpc.StreamClientInterceptor)
	// DialOptions are added to every network connection.
	DialOptions []grpc.DialOption
}

// Path is the way a connection's calls take to their service, for the
// Middleware: what a call is worth tracing and guarding with depends on it.
type Path uint8

const (
	// Network calls go over gRPC: to another process, or to this process's
	// own port (Config.Loopback).
	Network Path = iota
	// InProcess calls go over the in-process channel to a service of this
	// same process (Local.Channel).
	InProcess
	// GatewayEntry calls are the gateway's, into a service of this same
	// process through Local.Entry, on behalf of a REST request
	// (Conns.Gateway): the request's own entry, not a dependency, so they
	// want neither a breaker nor retries, which would multiply the retries
	// of the hops below; and they run on the request's own context, so
	// nothing needs to travel as metadata either.
	GatewayEntry
)

// String returns "network", "in-process" or "gateway-entry".
func (p Path) String() string {
	switch p {
	case Network:
		return "network"
	case InProcess:
		return "in-process"
	case GatewayEntry:
		return "gateway-entry"
	}
	return fmt.Sprintf("Path(%d)", uint8(p))
}

// Conns hands out one shared connection per service. It is safe for
// concurrent use.
type Conns struct {
	cfg   Config
	local Local
	o     Options

	mu     sync.Mutex
	conns  map[string]grpc.ClientConnInterface
	dialed []*grpc.ClientConn
	closed bool
}

// New returns Conns for cfg. local is the zero Local in a process without a
// gRPC server.
func New(cfg Config, local Local, opts Options) *Conns {
	return &Conns{cfg: cfg, local: local, o: opts, conns: map[string]grpc.ClientConnInterface{}}
}

// Conn returns the connection to a service, creating it on first use.
// Connecting is lazy: a service that is down makes calls fail, not Conn.
// methods are the service's generated method table; their timeouts apply
// to calls whose context has no deadline.
//
// Where the calls go: to the service's -target when it has one; else, with
// discovery, in-process when this process serves the service and through
// discovery otherwise; else in-process (or over the process's own port
// with -local-loopback).
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
	var cc grpc.ClientConnInterface
	target, ok := c.cfg.Targets[service]
	switch {
	case ok:
		cc, err = c.dial(service, target, table, nil)
	case c.o.Discovery != nil && c.local.Serves != nil && len(methods) > 0:
		// Whether this process serves the service is known once its server
		// is built, after the callers' constructors ran: decide on the
		// first call.
		full := methods[0].Service()
		cc = &deferredConn{pick: func(ctx context.Context) (grpc.ClientConnInterface, error) {
			serves, err := c.local.Serves(ctx, full)
			switch {
			case err != nil:
				return nil, err
			case serves && !c.cfg.Loopback:
				return c.inProcess(service, table), nil
			case serves:
				return c.track(c.loopback(service, table))
			}
			return c.track(c.discovered(service, table))
		}}
	case !c.local.usable(c.cfg.Loopback):
		return nil, fmt.Errorf("client: no target for service %q: set -target %s=host:port, or find it through discovery (-registry)", service, service)
	case !c.cfg.Loopback && c.local.Channel != nil:
		cc = c.inProcess(service, table)
	default:
		cc, err = c.loopback(service, table)
	}
	if err != nil {
		return nil, err
	}
	if nc, ok := cc.(*grpc.ClientConn); ok {
		c.dialed = append(c.dialed, nc)
	}
	c.conns[service] = cc
	return cc, nil
}

// inProcess is the connection to a service of this process, in-process.
func (c *Conns) inProcess(service string, table rpc.Table) grpc.ClientConnInterface {
	unary, stream := c.interceptors(service, table, InProcess)
	return intercepted(c.local.Channel, unary, stream)
}

// loopback is the connection to a service of this process over its own
// gRPC port.
func (c *Conns) loopback(service string, table rpc.Table) (*grpc.ClientConn, error) {
	addr := c.local.Addr
	return c.dial(service, "passthrough:///"+service, table, []grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			addr, err := addr(ctx)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}),
	})
}

// discovered is the connection to a service found through discovery.
func (c *Conns) discovered(service string, table rpc.Table) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{grpc.WithResolvers(c.o.Discovery)}
	if c.o.ServiceConfig != "" {
		opts = append(opts, grpc.WithDefaultServiceConfig(c.o.ServiceConfig))
	}
	return c.dial(service, c.o.Discovery.Scheme()+":///"+service, table, opts)
}

// dial makes a network connection (lazily: nothing is dialed before a call).
func (c *Conns) dial(service, target string, table rpc.Table, extra []grpc.DialOption) (*grpc.ClientConn, error) {
	unary, stream := c.interceptors(service, table, Network)
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...),
	}, extra...)
	cc, err := grpc.NewClient(target, append(opts, c.o.DialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("client: service %q at %q: %w", service, target, err)
	}
	return cc, nil
}

// track records a connection made after Conn returned, so Close closes it;
// after Close it closes the connection at once and fails.
func (c *Conns) track(cc *grpc.ClientConn, err error) (grpc.ClientConnInterface, error) {
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = cc.Close()
		return nil, status.Error(codes.Unavailable, "client: the process is shutting down")
	}
	c.dialed = append(c.dialed, cc)
	return cc, nil
}

// Gateway returns the connection a grpc-gateway mux uses to call a
// service: Conn's, except for a service of this process called in-process,
// which the REST request enters through Local.Entry: on its own context,
// messages not copied (the gateway's generated handlers decode a fresh
// request per HTTP request and only marshal the reply), governed by the
// service's entry chain (server.LocalChannel.Entry). Its client side is
// the Middleware's for GatewayEntry and error decoding: the request id,
// user, routing attributes and trace context are in the context the
// handler runs on, and the method's deadline is the entry chain's.
func (c *Conns) Gateway(service string, methods []rpc.Method) (grpc.ClientConnInterface, error) {
	_, remote := c.cfg.Targets[service]
	if remote || c.cfg.Loopback || c.local.Entry == nil {
		return c.Conn(service, methods)
	}
	table, err := rpc.NewTable(methods)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", service, err)
	}
	unary, stream := []grpc.UnaryClientInterceptor(nil), []grpc.StreamClientInterceptor{forwardStream}
	if c.o.Middleware != nil {
		u, s := c.o.Middleware(service, table, GatewayEntry)
		unary, stream = append(unary, u...), append(stream, s...)
	}
	unary, stream = append(unary, apierror.UnaryClientInterceptor()), append(stream, apierror.StreamClientInterceptor())
	return intercepted(c.local.Entry, unary, stream), nil
}

// interceptors are the client interceptors of every call to service over
// path: the request id, the user and the routing attributes travel; the
// declared timeout applies when the caller set no deadline; then the
// Middleware's (tracing, breakers, retries), all within that deadline;
// errors are decoded last, so that every interceptor above sees platform
// errors.
func (c *Conns) interceptors(service string, table rpc.Table, path Path) ([]grpc.UnaryClientInterceptor, []grpc.StreamClientInterceptor) {
	fwd := forwardUnary
	if path == InProcess {
		fwd = forwardLocal(c.local.Channel)
	}
	unary := []grpc.UnaryClientInterceptor{fwd, timeoutInterceptor(table)}
	stream := []grpc.StreamClientInterceptor{forwardStream}
	if c.o.Middleware != nil {
		u, s := c.o.Middleware(service, table, path)
		unary, stream = append(unary, u...), append(stream, s...)
	}
	return append(unary, apierror.UnaryClientInterceptor()), append(stream, apierror.StreamClientInterceptor())
}

// forward adds what travels with every call to the outgoing metadata: the
// request id, the user and the routing attributes, in one addition.
// Their packages' own client interceptors would make one each, and each
// addition costs a context, a slice of the pairs and a copy of the list of
// earlier additions.
func forward(ctx context.Context) context.Context {
	var buf [forwardedPairs]string
	kv := appendForwarded(ctx, buf[:0])
	if len(kv) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// appendForwarded appends to kv what travels with every call: the request
// id, the user and the routing attributes, those the caller's outgoing
// metadata does not set already.
func appendForwarded(ctx context.Context, kv []string) []string {
	kv = requestid.AppendOutgoing(ctx, kv)
	kv = auth.AppendOutgoing(ctx, kv)
	return routing.AppendOutgoing(ctx, kv)
}

// forwardedPairs is the most strings appendForwarded appends.
const forwardedPairs = 2 + 2 + 2*len(routing.Keys)

func forwardUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(forward(ctx), method, req, reply, cc, opts...)
}

// forwardLocal is forwardUnary for in-process calls over ch. When ch is
// the server's LocalChannel, which builds the callee's incoming metadata
// from the pairs themselves (platform/internal/callmd), they skip the
// outgoing metadata: adding to it and reading it back cost a quarter of an
// in-process call's allocations.
func forwardLocal(ch grpc.ClientConnInterface) grpc.UnaryClientInterceptor {
	_, direct := ch.(interface{ ReadsCallMD() })
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		// The pairs are the callee's to keep: a buffer of their own.
		kv := appendForwarded(ctx, make([]string, 0, forwardedPairs))
		switch {
		case len(kv) == 0:
		case direct:
			ctx = callmd.With(ctx, kv)
		default:
			// The same replacement of the caller's keys, in the outgoing
			// metadata (a copy of it).
			md, _ := metadata.FromOutgoingContext(ctx)
			ctx = metadata.NewOutgoingContext(ctx, callmd.Merge(md, kv))
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

func forwardStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(forward(ctx), desc, cc, method, opts...)
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
	Local     Local   `optional:"true"`
	Options   Options `optional:"true"`
	Lifecycle fx.Lifecycle
}

// Module provides *Conns, closed when the app stops.
var Module = fx.Module("tremolo.client",
	fx.Provide(func(p Params) *Conns {
		c := New(p.Config, p.Local, p.Options)
		p.Lifecycle.Append(fx.StopHook(c.Close))
		return c
	}),
)
