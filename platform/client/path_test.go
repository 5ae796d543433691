package client

import (
	"context"
	"errors"
	"sync"
	"testing"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/requestid"
	"github.com/tremolo-dev/tremolo/platform/routing"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// channel stands in for the in-process channel: it answers every unary
// call with an empty reply and keeps the outgoing metadata of the last.
type channel struct {
	mu   sync.Mutex
	sent metadata.MD
}

func (c *channel) Invoke(ctx context.Context, _ string, _, _ any, _ ...grpc.CallOption) error {
	md, _ := metadata.FromOutgoingContext(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = md
	return nil
}

func (c *channel) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("no streams here")
}

// paths records the path the Middleware was given for each service.
type paths struct {
	mu sync.Mutex
	m  map[string]Path
}

func (p *paths) middleware(service string, _ rpc.Table, path Path) ([]grpc.UnaryClientInterceptor, []grpc.StreamClientInterceptor) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[service] = path
	return nil, nil
}

func (p *paths) get(service string) (Path, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	path, ok := p.m[service]
	return path, ok
}

// The Middleware learns the way each connection's calls take (tracing
// gives client spans only to calls that leave the process); for a
// connection that chooses it at its first call, then.
func TestMiddlewareLearnsThePath(t *testing.T) {
	addr := serve(t, 0)
	served := func(fullService string) bool { return fullService == "grpc.health.v1.Health" }
	for _, tc := range []struct {
		name    string
		cfg     Config
		local   func(ch *channel) Local
		disco   bool
		gateway bool
		want    Path
	}{
		{name: "target", cfg: Config{Targets: map[string]string{"health": addr}}, want: Network},
		{name: "in-process", local: func(ch *channel) Local { return Local{Channel: ch} }, want: InProcess},
		{name: "loopback", cfg: Config{Loopback: true}, want: Network},
		{name: "gateway", local: func(ch *channel) Local { return Local{Channel: ch, Entry: ch} }, gateway: true, want: GatewayEntry},
		{name: "served, found at the first call", disco: true, local: func(ch *channel) Local {
			return Local{Channel: ch, Serves: func(_ context.Context, s string) (bool, error) { return served(s), nil }}
		}, want: InProcess},
		{name: "not served, found through discovery", disco: true, local: func(ch *channel) Local {
			return Local{Channel: ch, Serves: func(context.Context, string) (bool, error) { return false, nil }}
		}, want: Network},
		{name: "served, over the own port", cfg: Config{Loopback: true}, disco: true, local: func(ch *channel) Local {
			return Local{Channel: ch, Serves: func(_ context.Context, s string) (bool, error) { return served(s), nil }}
		}, want: Network},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := &channel{}
			local := Local{}
			if tc.local != nil {
				local = tc.local(ch)
			}
			local.Addr = func(context.Context) (string, error) { return addr, nil }
			p := &paths{m: map[string]Path{}}
			opts := Options{Middleware: p.middleware}
			if tc.disco {
				r := manual.NewBuilderWithScheme("test")
				r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: addr}}})
				opts.Discovery = r
			}
			c := New(tc.cfg, local, opts)
			defer c.Close()
			var cc grpc.ClientConnInterface
			var err error
			if tc.gateway {
				cc, err = c.Gateway("health", healthMethods)
			} else {
				cc, err = c.Conn("health", healthMethods)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, chosen := p.get("health"); tc.disco && chosen {
				t.Error("the Middleware was asked before the connection's first call chose the path")
			}
			if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatal(err)
			}
			if got, ok := p.get("health"); !ok || got != tc.want {
				t.Errorf("Middleware given path %v (asked: %v), want %v", got, ok, tc.want)
			}
		})
	}
}

// A call carries the request's id, user and routing attributes, each
// once; a value the caller put in the outgoing metadata itself wins. (This
// channel is not the server's, so the pairs go as outgoing metadata.)
func TestCallsForwardRequestUserAndRoute(t *testing.T) {
	ch := &channel{}
	c := New(Config{}, Local{Channel: ch}, Options{})
	defer c.Close()
	cc, err := c.Conn("health", healthMethods)
	if err != nil {
		t.Fatal(err)
	}
	ctx := requestid.NewContext(context.Background(), "req-1")
	ctx = auth.WithUser(ctx, 42)
	ctx = routing.NewContext(ctx, routing.Route{Version: "v2", Cell: "3"})
	check := func(ctx context.Context, want map[string]string) {
		t.Helper()
		if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if got := ch.sent.Get(k); len(got) != 1 || got[0] != v {
				t.Errorf("sent %s = %q, want [%q]", k, got, v)
			}
		}
		if len(ch.sent) != len(want) {
			t.Errorf("sent %v, want only %v", ch.sent, want)
		}
	}
	check(ctx, map[string]string{
		requestid.Key: "req-1", auth.MetadataKey: "42", routing.VersionKey: "v2", routing.CellKey: "3",
	})
	check(metadata.AppendToOutgoingContext(ctx, requestid.Key, "mine", routing.CellKey, "5"), map[string]string{
		requestid.Key: "mine", auth.MetadataKey: "42", routing.VersionKey: "v2", routing.CellKey: "5",
	})
	check(context.Background(), map[string]string{})
}
