package discovery

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
	"google.golang.org/grpc/status"
)

// TestResolverFollowsEtcd dials through the resolver while instances come
// and go in etcd.
func TestResolverFollowsEtcd(t *testing.T) {
	t.Parallel()
	srv := startEtcd(t)
	cli := newClient(t, srv.Endpoints(), 2*time.Second)
	reg := newEtcd(t, cli, EtcdOptions{TTL: 2 * time.Second})
	ctx := context.Background()
	a, b := startBackend(t), startBackend(t)
	conn := dial(t, reg, nil, "echo")

	ra, err := reg.Register(ctx, inst("echo", "a", a.addr))
	if err != nil {
		t.Fatal(err)
	}
	waitCalls(t, conn, 5*time.Second, "calls reach a", func(g []int64) bool { return g[0] >= 5 && g[1] == 0 }, a, b)

	if _, err := reg.Register(ctx, inst("echo", "b", b.addr)); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, conn, 5*time.Second, "calls reach both", func(g []int64) bool { return g[0] > 0 && g[1] > 0 }, a, b)

	if err := ra.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	// After a short settling, a gets nothing more.
	time.Sleep(500 * time.Millisecond)
	before := a.calls.Load()
	for range 50 {
		if err := check(conn, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.calls.Load() - before; got != 0 {
		t.Fatalf("the deregistered instance still got %d of 50 calls", got)
	}
}

func TestResolverWithoutInstancesFailsFastNamingTheService(t *testing.T) {
	reg := NewMemory()
	defer reg.Close()
	// gRPC's default balancer, pick_first, passes the resolver's error on.
	pickFirst, err := grpc.NewClient(Scheme+":///ghost",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(NewResolverBuilder(reg, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer pickFirst.Close()
	start := time.Now()
	err = check(pickFirst, 10*time.Second)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call to a service without instances = %v; want UNAVAILABLE", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the call took %s to fail; want it to fail fast", d)
	}
	// The resolver's error follows its empty state at once; a call made
	// between the two gets pick_first's "produced zero addresses".
	for !strings.Contains(err.Error(), `discovery: service "ghost" has no live instances`) {
		if time.Since(start) > time.Second {
			t.Fatalf("calls fail with %v; want the error naming the service", err)
		}
		time.Sleep(5 * time.Millisecond)
		err = check(pickFirst, 10*time.Second)
	}
	// round_robin fails as fast, with its own message.
	conn := dial(t, reg, nil, "ghost")
	start = time.Now()
	if err := check(conn, 10*time.Second); status.Code(err) != codes.Unavailable {
		t.Fatalf("round_robin call to a service without instances = %v; want UNAVAILABLE", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the round_robin call took %s to fail; want it to fail fast", d)
	}
	// And it recovers as soon as an instance appears.
	be := startBackend(t)
	r, err := reg.Register(context.Background(), inst("ghost", "g1", be.addr))
	if err != nil {
		t.Fatal(err)
	}
	waitCalls(t, conn, 5*time.Second, "calls reach the new instance", func(g []int64) bool { return g[0] > 0 }, be)
	// Gone again: fail fast again.
	if err := r.Deregister(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for status.Code(check(conn, 10*time.Second)) != codes.Unavailable {
		if time.Now().After(deadline) {
			t.Fatal("calls still succeed after the last instance left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestResolverStaticFallback(t *testing.T) {
	reg := NewMemory()
	defer reg.Close()
	static, dynamic := startBackend(t), startBackend(t)
	conn := dial(t, reg, map[string][]string{"legacy": {static.addr}}, "legacy")
	waitCalls(t, conn, 5*time.Second, "nothing knows legacy: calls reach the static address",
		func(g []int64) bool { return g[0] > 0 && g[1] == 0 }, static, dynamic)

	r, err := reg.Register(context.Background(), inst("legacy", "d1", dynamic.addr))
	if err != nil {
		t.Fatal(err)
	}
	waitCalls(t, conn, 5*time.Second, "registered instances replace the static address",
		func(g []int64) bool { return g[1] >= 20 }, static, dynamic)
	before := static.calls.Load()
	for range 20 {
		_ = check(conn, time.Second)
	}
	if static.calls.Load() != before {
		t.Fatal("the static address still gets calls while an instance is registered")
	}
	if err := r.Deregister(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, conn, 5*time.Second, "back to the static address", func(g []int64) bool { return g[0] > 0 }, static)
}

// TestResolverStaticFallbackWhenEtcdIsUnreachable: etcd down, no snapshot,
// the static addresses carry the calls.
func TestResolverStaticFallbackWhenEtcdIsUnreachable(t *testing.T) {
	t.Parallel()
	cli := newClient(t, []string{deadEndpoint(t)}, 300*time.Millisecond)
	reg := newEtcd(t, cli, EtcdOptions{Timeout: 300 * time.Millisecond})
	static := startBackend(t)
	conn := dial(t, reg, map[string][]string{"legacy": {static.addr, "not-an-address"}}, "legacy")
	if err := check(conn, 5*time.Second); err != nil {
		t.Fatalf("call with etcd unreachable and a static address: %v", err)
	}
	if static.calls.Load() != 1 {
		t.Fatalf("static backend got %d calls; want 1", static.calls.Load())
	}
	// Without static addresses the same registry fails calls fast.
	conn2 := dial(t, reg, nil, "legacy")
	if err := check(conn2, 5*time.Second); status.Code(err) != codes.Unavailable {
		t.Fatalf("call with nothing known = %v; want UNAVAILABLE", err)
	}
}

// fakeConn records what a resolver reports; it stands for gRPC's side.
type fakeConn struct {
	resolver.ClientConn
	mu     sync.Mutex
	states []resolver.State
	errs   []error
	update chan struct{}
}

func newFakeConn() *fakeConn { return &fakeConn{update: make(chan struct{}, 100)} }

func (f *fakeConn) UpdateState(s resolver.State) error {
	f.mu.Lock()
	f.states = append(f.states, s)
	f.mu.Unlock()
	f.update <- struct{}{}
	return nil
}

func (f *fakeConn) ReportError(err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

func (f *fakeConn) ParseServiceConfig(string) *serviceconfig.ParseResult { return nil }

func (f *fakeConn) last(t *testing.T) (resolver.State, []error) {
	t.Helper()
	select {
	case <-f.update:
	case <-time.After(5 * time.Second):
		t.Fatal("no state update")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.states[len(f.states)-1], f.errs
}

func target(t *testing.T, s string) resolver.Target {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return resolver.Target{URL: *u}
}

func TestResolverAddressesCarryTheirInstance(t *testing.T) {
	reg := NewMemory()
	defer reg.Close()
	want := inst("user", "u1", "127.0.0.1:9001")
	if _, err := reg.Register(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	b := NewResolverBuilder(reg, map[string][]string{"user": {"127.0.0.1:7000"}})
	if b.Scheme() != Scheme {
		t.Fatalf("scheme %q", b.Scheme())
	}
	cc := newFakeConn()
	r, err := b.Build(target(t, "tremolo:///user"), cc, resolver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, _ := cc.last(t)
	if len(st.Addresses) != 1 || st.Addresses[0].Addr != want.Addr {
		t.Fatalf("addresses %+v; want %s", st.Addresses, want.Addr)
	}
	got, ok := InstanceOf(st.Addresses[0])
	if !ok || got.Version != "1.2.0" || got.Labels["track"] != "stable" || got.Zone != "az1" {
		t.Fatalf("InstanceOf = %+v, %v; want %+v", got, ok, want)
	}
	if got, ok := InstanceOfEndpoint(st.Endpoints[0]); !ok || got.ID != "u1" {
		t.Fatalf("InstanceOfEndpoint = %+v, %v", got, ok)
	}
	// Static addresses carry none.
	cc2 := newFakeConn()
	r2, err := b.Build(target(t, "tremolo:///user"), cc2, resolver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	cc2.last(t)
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	r3, err := b.Build(target(t, "tremolo:///user"), cc2, resolver.BuildOptions{})
	if err != nil {
		t.Fatalf("Build with a closed registry and static addresses: %v", err)
	}
	defer r3.Close()
	st, _ = cc2.last(t)
	if len(st.Addresses) != 1 || st.Addresses[0].Addr != "127.0.0.1:7000" {
		t.Fatalf("static state %+v", st)
	}
	if _, ok := InstanceOf(st.Addresses[0]); ok {
		t.Fatal("a static address carries an Instance")
	}
}

func TestResolverRefusesBadTargets(t *testing.T) {
	b := NewResolverBuilder(NewMemory(), nil)
	for _, s := range []string{"tremolo:///", "tremolo:///a/b", "tremolo:///a%20b"} {
		if _, err := b.Build(target(t, s), newFakeConn(), resolver.BuildOptions{}); err == nil {
			t.Errorf("Build(%s) succeeded", s)
		}
	}
	if _, err := NewResolverBuilder(nil, nil).Build(target(t, "tremolo:///x"), newFakeConn(), resolver.BuildOptions{}); err == nil {
		t.Error("Build without a registry or static addresses succeeded")
	}
}
