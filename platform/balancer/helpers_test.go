package balancer

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"

	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/discovery"
	"github.com/tremolo-dev/tremolo/platform/routing"
)

// fakeSC stands for a READY SubConn; pickers only compare them.
type fakeSC struct {
	balancer.SubConn
	name string
}

// fleet is a set of fake instances, by name, as a picker sees them.
type fleet struct {
	ready map[balancer.SubConn]base.SubConnInfo
	names map[balancer.SubConn]string
}

func newFleet() *fleet {
	return &fleet{ready: map[balancer.SubConn]base.SubConnInfo{}, names: map[balancer.SubConn]string{}}
}

// add makes a READY instance named name (its address is derived from the
// name) carrying inst; a nil inst is a static address.
func (f *fleet) add(name string, inst *discovery.Instance) *fleet {
	sc := &fakeSC{name: name}
	addr := resolver.Address{Addr: name + ":8080"}
	if inst != nil {
		i := inst.Clone()
		i.Service, i.ID, i.Addr = "svc", name, addr.Addr
		addr = discovery.WithInstance(addr, i)
	}
	f.ready[sc] = base.SubConnInfo{Address: addr}
	f.names[sc] = name
	return f
}

// without is f minus the named instances.
func (f *fleet) without(names ...string) *fleet {
	g := newFleet()
	for sc, info := range f.ready {
		drop := false
		for _, n := range names {
			drop = drop || f.names[sc] == n
		}
		if !drop {
			g.ready[sc], g.names[sc] = info, f.names[sc]
		}
	}
	return g
}

func stable(version, cell string) *discovery.Instance {
	return &discovery.Instance{Version: version, Cell: cell}
}

func canary(version, cell string) *discovery.Instance {
	return &discovery.Instance{Version: version, Cell: cell, Labels: map[string]string{"track": "canary"}}
}

// testState is a picker's state with a fresh service name per test, so
// that tests read their own metrics.
func testState(t testing.TB, hashKey string, cells ...string) *state {
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`{"hashKey": %q}`, hashKey)))
	if err != nil {
		t.Fatal(err)
	}
	return &state{cfg: cfg, cells: cells, metrics: newServiceMetrics(t.Name())}
}

// call is a call's routing attributes and user.
type call struct {
	version, exp, cell, user string
}

func (c call) ctx() context.Context {
	var kv []string
	for _, p := range [][2]string{
		{routing.VersionKey, c.version}, {routing.ExperimentKey, c.exp},
		{routing.CellKey, c.cell}, {auth.MetadataKey, c.user},
	} {
		if p[1] != "" {
			kv = append(kv, p[0], p[1])
		}
	}
	return metadata.AppendToOutgoingContext(context.Background(), kv...)
}

func (f *fleet) pick(t testing.TB, p balancer.Picker, c call) string {
	t.Helper()
	res, err := p.Pick(balancer.PickInfo{FullMethodName: "/svc.Svc/M", Ctx: c.ctx()})
	if err != nil {
		t.Fatalf("Pick(%+v): %v", c, err)
	}
	name, ok := f.names[res.SubConn]
	if !ok {
		t.Fatalf("Pick(%+v) returned a SubConn that is not READY: %v", c, res.SubConn)
	}
	return name
}

// spread picks n times and counts the instances.
func (f *fleet) spread(t testing.TB, p balancer.Picker, c call, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		got[f.pick(t, p, c)]++
	}
	return got
}

func picks(t testing.TB, subset string) float64 {
	return testutil.ToFloat64(picksTotal.WithLabelValues(t.Name(), subset))
}

func failovers(t testing.TB, from, to string) float64 {
	return testutil.ToFloat64(failoversTotal.WithLabelValues(t.Name(), from, to))
}
