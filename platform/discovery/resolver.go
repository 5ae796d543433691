package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/resolver"
)

// Scheme is the gRPC target scheme of the registry: a client dials
// "tremolo:///<service>" and the resolver built by NewResolverBuilder
// finds the service's instances.
const Scheme = "tremolo"

// NewResolverBuilder returns the gRPC resolver of targets
// "tremolo:///<service>", fed by reg's Watch. Install it per connection with
// grpc.WithResolvers rather than resolver.Register: a process may hold
// several registries (tests do), and a global one would be shared by all.
//
// Every address carries its Instance (WithInstance, InstanceOf) for
// balancers that route on versions, labels or zones. The resolver does not
// choose the balancer: dial with a service config naming one (round_robin
// spreads calls over all instances; gRPC's default, pick_first, uses one).
//
// static maps a service to addresses used when nothing else knows the
// service: the registry lists no instance (none registered, or etcd
// unreachable with no snapshot). Those addresses carry no Instance. A
// service without static addresses and without instances resolves to no
// address and an error naming it, so that calls fail at once with
// UNAVAILABLE instead of waiting for an instance. (pick_first passes that
// error on to the call, once it follows the empty state; round_robin fails
// the call as fast but with its own message, "no children to pick from".)
func NewResolverBuilder(reg Registry, static map[string][]string) resolver.Builder {
	b := &resolverBuilder{reg: reg, static: map[string][]resolver.Address{}}
	for _, service := range slices.Sorted(maps.Keys(static)) {
		var addrs []resolver.Address
		for _, a := range static[service] {
			a = strings.TrimSpace(a)
			if _, _, err := splitHostPort(a); err != nil {
				// Config validates its flags; a map built in code may not be.
				slog.Default().Warn("discovery: skipping an invalid static address",
					slog.String("service", service), slog.String("addr", a), slog.Any("error", err))
				continue
			}
			addrs = append(addrs, resolver.Address{Addr: a})
		}
		if len(addrs) > 0 {
			b.static[service] = addrs
		}
	}
	return b
}

type resolverBuilder struct {
	reg    Registry
	static map[string][]resolver.Address
}

func (b *resolverBuilder) Scheme() string { return Scheme }

// Build starts watching the target's service.
func (b *resolverBuilder) Build(target resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	service := target.Endpoint()
	if err := checkService(service); err != nil {
		return nil, fmt.Errorf("discovery: target %q: want %s:///<service>: %w", target.URL.String(), Scheme, err)
	}
	r := &registryResolver{service: service, cc: cc, static: b.static[service]}
	if b.reg == nil {
		if r.static == nil {
			return nil, fmt.Errorf("discovery: resolving %q: no registry and no static addresses", service)
		}
		r.update(nil)
		return r, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	ch, err := b.reg.Watch(ctx, service)
	if err != nil {
		cancel()
		if r.static == nil {
			return nil, fmt.Errorf("discovery: resolving %q: %w", service, err)
		}
		r.update(nil)
		return r, nil
	}
	go func() {
		for list := range ch {
			r.update(list)
		}
	}()
	return r, nil
}

// registryResolver turns a service's instance lists into gRPC states.
type registryResolver struct {
	service string
	cc      resolver.ClientConn
	static  []resolver.Address
	cancel  context.CancelFunc
	closed  atomic.Bool
	mu      sync.Mutex // orders updates
}

func (r *registryResolver) update(list []Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return
	}
	switch {
	case len(list) > 0:
		state := resolver.State{
			Addresses: make([]resolver.Address, 0, len(list)),
			Endpoints: make([]resolver.Endpoint, 0, len(list)),
		}
		for _, inst := range list {
			addr := WithInstance(resolver.Address{Addr: inst.Addr}, inst)
			state.Addresses = append(state.Addresses, addr)
			state.Endpoints = append(state.Endpoints, resolver.Endpoint{
				Addresses:  []resolver.Address{addr},
				Attributes: addr.BalancerAttributes,
			})
		}
		// An error means the balancer refused the state; the next list
		// comes from the watch, so there is nothing to retry.
		_ = r.cc.UpdateState(state)
	case len(r.static) > 0:
		_ = r.cc.UpdateState(resolver.State{Addresses: slices.Clone(r.static)})
	default:
		_ = r.cc.UpdateState(resolver.State{})
		r.cc.ReportError(fmt.Errorf("discovery: service %q has no live instances", r.service))
	}
}

// ResolveNow does nothing: the registry pushes every change.
func (r *registryResolver) ResolveNow(resolver.ResolveNowOptions) {}

// Close stops the watch. It does not wait for an update in progress: gRPC
// ignores updates from a closed resolver, and waiting could deadlock
// with the ClientConn's lock.
func (r *registryResolver) Close() {
	r.closed.Store(true)
	if r.cancel != nil {
		r.cancel()
	}
}
