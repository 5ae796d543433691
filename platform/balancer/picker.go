package balancer

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/metadata"

	"github.com/tremolo-dev/tremolo/platform/cells"
	"github.com/tremolo-dev/tremolo/platform/discovery"
	"github.com/tremolo-dev/tremolo/platform/routing"
)

// picker places calls on a fixed READY set, with every subset precomputed.
type picker struct {
	hashKey string
	// stable serves calls without a version or whose version no READY
	// instance has: the stable instances, or all when none is READY.
	stable *group
	// versions maps each version a call may ask for to its instances.
	versions map[string]*group
}

// group is the subset step 1 chose before experiments.
type group struct {
	picks prometheus.Counter
	pool  *pool
	// byExp narrows pool to the instances of an "experiment=variant".
	byExp map[string]*pool
}

// Pick places one call. It fails only when nothing is READY, and then with
// ErrNoSubConnAvailable, which makes gRPC wait for the next picker.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	ctx := info.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	r := routing.FromOutgoing(ctx)
	g := p.stable
	if r.Version != "" {
		if vg, ok := p.versions[r.Version]; ok {
			g = vg
		}
	}
	g.picks.Inc()
	s, f := g.forExperiment(r.Experiment).forCell(r.Cell)
	if f != nil {
		f.count()
	}
	var key string
	if p.hashKey != "" {
		if v := metadata.ValueFromOutgoingContext(ctx, p.hashKey); len(v) > 0 {
			key = v[len(v)-1]
		}
	}
	return balancer.PickResult{SubConn: s.pick(key)}, nil
}

// forExperiment returns the pool of the first of the call's assignments
// ("experiment=variant,...") that an instance of g is labelled with, or
// all of g.
func (g *group) forExperiment(exp string) *pool {
	for len(g.byExp) > 0 && exp != "" {
		item := exp
		if i := strings.IndexByte(exp, ','); i >= 0 {
			item, exp = exp[:i], exp[i+1:]
		} else {
			exp = ""
		}
		if p, ok := g.byExp[item]; ok {
			return p
		}
	}
	return g.pool
}

// state is what a picker is built from besides the READY SubConns: the
// config and the resolver's last word.
type state struct {
	cfg Config
	// instances are the resolver's Instances by address: base's balancer
	// keeps the Address a SubConn was created with, so a relabelled
	// instance (same address, new metadata) is only seen here.
	instances map[addrKey]*discovery.Instance
	// cells are the cells of the resolver's instances, READY or not.
	cells   []string
	metrics *serviceMetrics
}

type addrKey struct{ addr, serverName string }

// newPicker builds the picker of a READY set.
func newPicker(ready map[balancer.SubConn]base.SubConnInfo, st *state) balancer.Picker {
	if len(ready) == 0 {
		return base.NewErrPicker(balancer.ErrNoSubConnAvailable)
	}
	pl := &plan{
		members: make([]member, 0, len(ready)),
		metrics: st.metrics,
		sets:    map[string]*set{},
		pools:   map[string]*pool{},
	}
	if st.cfg.HashKey != "" {
		pl.vnodes = st.cfg.VirtualNodes
	}
	cellSet := map[string]bool{}
	for _, c := range st.cells {
		cellSet[c] = true
	}
	for sc, info := range ready {
		inst, ok := st.instances[addrKey{info.Address.Addr, info.Address.ServerName}]
		if !ok {
			inst, _ = discovery.InstanceOf(info.Address)
		}
		m := memberOf(sc, info.Address, inst)
		if m.cell != "" {
			cellSet[m.cell] = true
		}
		pl.members = append(pl.members, m)
	}
	slices.SortStableFunc(pl.members, compareMembers)
	for c := range cellSet {
		pl.cells = append(pl.cells, c)
	}
	slices.SortFunc(pl.cells, cells.Compare)

	p := &picker{hashKey: st.cfg.HashKey, versions: map[string]*group{}}
	var all, stable []int
	for i := range pl.members {
		all = append(all, i)
		if !pl.members[i].gray {
			stable = append(stable, i)
		}
	}
	if len(stable) > 0 {
		p.stable = pl.group(stable, st.metrics.stable)
	} else {
		p.stable = pl.group(all, st.metrics.fallback)
	}
	groups := map[string]*group{}
	for i := range pl.members {
		for _, v := range pl.members[i].versionKeys() {
			if _, ok := p.versions[v]; ok {
				continue
			}
			var in []int
			for j := range pl.members {
				if pl.members[j].servesVersion(v) {
					in = append(in, j)
				}
			}
			sig := signature(in)
			g, ok := groups[sig]
			if !ok {
				g = pl.group(in, st.metrics.gray)
				groups[sig] = g
			}
			p.versions[v] = g
		}
	}
	return p
}

// plan is a picker under construction. It shares the sets and pools of
// identical instances between subsets: the "1.5.0" and "v1.5.0" groups,
// a label every canary carries, a cell only stable instances serve.
type plan struct {
	members []member
	cells   []string
	vnodes  int // 0: no rings
	metrics *serviceMetrics
	sets    map[string]*set
	pools   map[string]*pool
}

// group builds the group of members idx (not empty, ascending).
func (pl *plan) group(idx []int, picks prometheus.Counter) *group {
	g := &group{picks: picks, pool: pl.pool(idx)}
	byExp := map[string][]int{}
	for _, i := range idx {
		for _, k := range pl.members[i].experimentKeys() {
			byExp[k] = append(byExp[k], i)
		}
	}
	if len(byExp) > 0 {
		g.byExp = make(map[string]*pool, len(byExp))
		for k, in := range byExp {
			g.byExp[k] = pl.pool(in)
		}
	}
	return g
}

func (pl *plan) pool(idx []int) *pool {
	sig := signature(idx)
	if p, ok := pl.pools[sig]; ok {
		return p
	}
	p := pl.newPool(idx)
	pl.pools[sig] = p
	return p
}

func (pl *plan) set(idx []int) *set {
	sig := signature(idx)
	if s, ok := pl.sets[sig]; ok {
		return s
	}
	ms := make([]*member, len(idx))
	for k, i := range idx {
		ms[k] = &pl.members[i]
	}
	s := newSet(ms, pl.vnodes)
	pl.sets[sig] = s
	return s
}

// signature identifies a subset of members (ascending indexes).
func signature(idx []int) string {
	b := make([]byte, 0, 2*len(idx))
	for _, i := range idx {
		b = binary.AppendUvarint(b, uint64(i))
	}
	return string(b)
}

// union merges two ascending index lists.
func union(a, b []int) []int {
	out := make([]int, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
