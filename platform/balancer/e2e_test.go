package balancer_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/balancer"
	"github.com/tremolo-dev/tremolo/platform/discovery"
	"github.com/tremolo-dev/tremolo/platform/metrics/metricstest"
	"github.com/tremolo-dev/tremolo/platform/routing"
)

// servedBy is the response header naming the server that answered.
const servedBy = "x-served-by"

// backend is a real gRPC server on loopback answering health checks and
// saying who it is.
type backend struct {
	name string
	addr string
	srv  *grpc.Server
	inst discovery.Instance
}

func startBackend(t *testing.T, name string, inst discovery.Instance) *backend {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if err := grpc.SetHeader(ctx, metadata.Pairs(servedBy, name)); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	inst.Service, inst.ID, inst.Addr = "feed", name, lis.Addr().String()
	return &backend{name: name, addr: inst.Addr, srv: srv, inst: inst}
}

func resolverState(bs ...*backend) resolver.State {
	var st resolver.State
	for _, b := range bs {
		st.Addresses = append(st.Addresses, discovery.WithInstance(resolver.Address{Addr: b.addr}, b.inst))
	}
	return st
}

type client struct {
	t  *testing.T
	hc healthpb.HealthClient
}

// call makes one call with the given routing and user; it returns the
// server that answered.
func (c client) call(r routing.Route, user string) (string, error) {
	var kv []string
	for k, v := range map[string]string{routing.VersionKey: r.Version, routing.CellKey: r.Cell, auth.MetadataKey: user} {
		if v != "" {
			kv = append(kv, k, v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, kv...)
	var md metadata.MD
	if _, err := c.hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md)); err != nil {
		return "", err
	}
	if v := md.Get(servedBy); len(v) == 1 {
		return v[0], nil
	}
	return "", fmt.Errorf("no %s header in %v", servedBy, md)
}

func (c client) mustCall(r routing.Route, user string) string {
	c.t.Helper()
	s, err := c.call(r, user)
	if err != nil {
		c.t.Fatalf("call %+v user %q: %v", r, user, err)
	}
	return s
}

// eventually calls until a call is served by want.
func (c client) eventually(r routing.Route, user, want string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := c.call(r, user)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("call %+v: still served by %q (%v), want %s", r, got, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEndToEnd(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := balancer.Metrics(reg); err != nil {
		t.Fatal(err)
	}
	stable := func(cell string) discovery.Instance {
		return discovery.Instance{Version: "1.4.0", Cell: cell, Labels: map[string]string{"track": "stable"}}
	}
	s0 := startBackend(t, "s0", stable("0"))
	s1 := startBackend(t, "s1", stable("1"))
	s2 := startBackend(t, "s2", stable("2"))
	can := startBackend(t, "canary", discovery.Instance{Version: "1.5.0-canary.1", Labels: map[string]string{"track": "canary"}})

	r := manual.NewBuilderWithScheme("tremolo-e2e")
	r.InitialState(resolverState(s0, s1, s2, can))
	cc, err := grpc.NewClient(r.Scheme()+":///feed-e2e",
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(balancer.ServiceConfig(auth.MetadataKey)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	c := client{t: t, hc: healthpb.NewHealthClient(cc)}

	gray := routing.Route{Version: "1.5.0-canary.1"}
	// Wait until every backend is READY: each is the only one some call
	// can reach.
	c.eventually(gray, "", "canary")
	for _, b := range []*backend{s0, s1, s2} {
		c.eventually(routing.Route{Cell: b.inst.Cell}, "", b.name)
	}

	t.Run("gray calls reach only the canary", func(t *testing.T) {
		c := client{t: t, hc: c.hc}
		for i := range 200 {
			if got := c.mustCall(gray, strconv.Itoa(i)); got != "canary" {
				t.Fatalf("gray call %d served by %s", i, got)
			}
		}
	})
	t.Run("other calls never reach the canary", func(t *testing.T) {
		c := client{t: t, hc: c.hc}
		seen := map[string]int{}
		for i := range 200 {
			user := ""
			if i%2 == 0 {
				user = strconv.Itoa(i)
			}
			seen[c.mustCall(routing.Route{}, user)]++
		}
		if seen["canary"] > 0 || len(seen) != 3 {
			t.Errorf("calls without a version reached %v, want s0, s1, s2 only", seen)
		}
	})
	t.Run("a user stays on one server", func(t *testing.T) {
		c := client{t: t, hc: c.hc}
		servers := map[string]bool{}
		for u := range 30 {
			user := strconv.Itoa(1000 + u)
			first := c.mustCall(routing.Route{}, user)
			servers[first] = true
			for range 10 {
				if got := c.mustCall(routing.Route{}, user); got != first {
					t.Fatalf("user %s served by %s, then %s", user, first, got)
				}
			}
		}
		if len(servers) < 2 {
			t.Errorf("30 users all landed on %v", servers)
		}
	})
	t.Run("relabelled instance leaves the stable set", func(t *testing.T) {
		c := client{t: t, hc: c.hc}
		relabelled := *s2
		relabelled.inst = s2.inst.Clone()
		relabelled.inst.Version = "1.6.0"
		relabelled.inst.Labels = map[string]string{"track": "blue"}
		r.UpdateState(resolverState(s0, s1, &relabelled, can))
		c.eventually(routing.Route{Version: "1.6.0"}, "", "s2")
		for i := range 100 {
			if got := c.mustCall(routing.Route{}, strconv.Itoa(i)); got == "s2" {
				t.Fatalf("call %d without a version served by the relabelled s2", i)
			}
		}
		r.UpdateState(resolverState(s0, s1, s2, can))
		c.eventually(routing.Route{Cell: "2"}, "", "s2")
	})
	t.Run("cells and failover", func(t *testing.T) {
		c := client{t: t, hc: c.hc}
		for i := range 100 {
			if got := c.mustCall(routing.Route{Cell: "1"}, strconv.Itoa(i)); got != "s1" {
				t.Fatalf("cell 1 call served by %s", got)
			}
		}
		s1.srv.Stop()
		// In-flight picks may still meet s1's closing connection; once
		// the picker drops it, cell 1 is served by the next cell, 2.
		c.eventually(routing.Route{Cell: "1"}, "", "s2")
		for i := range 100 {
			if got := c.mustCall(routing.Route{Cell: "1"}, strconv.Itoa(i)); got != "s2" {
				t.Fatalf("cell 1 call after s1 stopped served by %s, want s2", got)
			}
		}
		if got := c.mustCall(routing.Route{Cell: "0"}, "7"); got != "s0" {
			t.Errorf("cell 0 call served by %s after s1 stopped", got)
		}
		if n := metricstest.Value(t, reg, "tremolo_balancer_cell_failovers_total", "service", "feed-e2e", "from", "1", "to", "2"); n < 100 {
			t.Errorf("failovers from cell 1 to 2 counted %v times, want at least 100", n)
		}
	})

	if n := metricstest.Value(t, reg, "tremolo_balancer_picks_total", "service", "feed-e2e", "subset", "gray"); n < 200 {
		t.Errorf("gray picks counted %v times, want at least 200", n)
	}
}
