package balancer

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"google.golang.org/grpc/balancer"

	"github.com/tremolo-dev/tremolo/platform/discovery"
)

// keys lists the instances a spread reached.
func keys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }

func wantOnly(t *testing.T, got map[string]int, want ...string) {
	t.Helper()
	slices.Sort(want)
	if k := keys(got); !slices.Equal(k, want) {
		t.Errorf("calls reached %v (%v), want exactly %v", k, got, want)
	}
}

func grayFleet() *fleet {
	return newFleet().
		add("a", stable("1.4.0", "")).
		add("b", stable("v1.4.0", "")).
		add("c", canary("1.5.0-canary.1", "")).
		add("d", &discovery.Instance{Version: "1.4.0", Labels: map[string]string{"track": "blue", "version": "blue"}}).
		add("e", &discovery.Instance{Version: "1.4.0", Labels: map[string]string{"track": "stable"}})
}

func TestGraySubsets(t *testing.T) {
	f := grayFleet()
	for _, tc := range []struct {
		name string
		call call
		want []string
	}{
		{"no version never reaches gray", call{}, []string{"a", "b", "e"}},
		{"version match", call{version: "1.5.0-canary.1"}, []string{"c"}},
		{"version match, v on the call", call{version: "v1.5.0-canary.1"}, []string{"c"}},
		{"version match, v on the instance", call{version: "1.4.0"}, []string{"a", "b", "d", "e"}},
		{"version label", call{version: "blue"}, []string{"d"}},
		{"version miss goes stable", call{version: "2.0.0"}, []string{"a", "b", "e"}},
		{"version miss, label is not a prefix", call{version: "blu"}, []string{"a", "b", "e"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPicker(f.ready, testState(t, ""))
			wantOnly(t, f.spread(t, p, tc.call, 300), tc.want...)
		})
	}
}

func TestGrayMissWhenCanaryNotReady(t *testing.T) {
	f := grayFleet().without("c")
	p := newPicker(f.ready, testState(t, ""))
	wantOnly(t, f.spread(t, p, call{version: "1.5.0-canary.1"}, 300), "a", "b", "e")
	if got := picks(t, subsetStable); got != 300 {
		t.Errorf("stable picks = %v, want 300", got)
	}
}

func TestPicksCountedBySubset(t *testing.T) {
	f := grayFleet()
	p := newPicker(f.ready, testState(t, ""))
	f.spread(t, p, call{}, 7)
	f.spread(t, p, call{version: "1.5.0-canary.1"}, 5)
	if g, s, fb := picks(t, subsetGray), picks(t, subsetStable), picks(t, subsetFallback); g != 5 || s != 7 || fb != 0 {
		t.Errorf("picks gray/stable/fallback = %v/%v/%v, want 5/7/0", g, s, fb)
	}
}

func TestFallbackWhenNoStableReady(t *testing.T) {
	f := newFleet().add("c1", canary("1.5.0", "")).add("c2", canary("1.6.0", ""))
	p := newPicker(f.ready, testState(t, ""))
	wantOnly(t, f.spread(t, p, call{}, 100), "c1", "c2")
	wantOnly(t, f.spread(t, p, call{version: "9.9.9"}, 100), "c1", "c2")
	wantOnly(t, f.spread(t, p, call{version: "1.6.0"}, 100), "c2")
	if fb, g := picks(t, subsetFallback), picks(t, subsetGray); fb != 200 || g != 100 {
		t.Errorf("fallback/gray picks = %v/%v, want 200/100", fb, g)
	}
}

func TestExperiments(t *testing.T) {
	f := newFleet().
		add("a", stable("1.4.0", "")).
		add("b", stable("1.4.0", "")).
		add("x", &discovery.Instance{Version: "1.4.0", Labels: map[string]string{"ranker": "b"}}).
		add("y", &discovery.Instance{Version: "1.4.0", Labels: map[string]string{"button": "red"}}).
		add("c", &discovery.Instance{Version: "1.5.0", Labels: map[string]string{"track": "canary", "ranker": "b"}})
	for _, tc := range []struct {
		name string
		call call
		want []string
	}{
		{"variant", call{exp: "ranker=b"}, []string{"x"}},
		{"first assignment with instances wins", call{exp: "color=blue,button=red,ranker=b"}, []string{"y"}},
		{"later assignment", call{exp: "color=blue,ranker=b"}, []string{"x"}},
		{"no instance of the variant", call{exp: "ranker=c"}, []string{"a", "b", "x", "y"}},
		{"within the gray subset", call{version: "1.5.0", exp: "ranker=b"}, []string{"c"}},
		{"gray instances stay out of stable experiments", call{exp: "ranker=b"}, []string{"x"}},
		{"track is not an experiment", call{exp: "track=canary"}, []string{"a", "b", "x", "y"}},
		{"malformed list", call{exp: ",,ranker=b,"}, []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPicker(f.ready, testState(t, ""))
			wantOnly(t, f.spread(t, p, tc.call, 200), tc.want...)
		})
	}
}

func cellFleet() *fleet {
	return newFleet().
		add("a0", stable("1.0.0", "0")).
		add("b0", stable("1.0.0", "0")).
		add("a1", stable("1.0.0", "1")).
		add("a2", stable("1.0.0", "2")).
		add("a3", stable("1.0.0", "3"))
}

func TestCells(t *testing.T) {
	all := []string{"0", "1", "2", "3"}
	for _, tc := range []struct {
		name       string
		f          *fleet
		registered []string
		call       call
		want       []string
		from, to   string // the failover counted, if any
	}{
		{"own cell", cellFleet(), all, call{cell: "1"}, []string{"a1"}, "", ""},
		{"own cell, several", cellFleet(), all, call{cell: "0"}, []string{"a0", "b0"}, "", ""},
		{"no cell on the call", cellFleet(), all, call{}, []string{"a0", "b0", "a1", "a2", "a3"}, "", ""},
		{"cell down fails over to the next", cellFleet().without("a1"), all, call{cell: "1"}, []string{"a2"}, "1", "2"},
		{"skips down cells", cellFleet().without("a1", "a2"), all, call{cell: "1"}, []string{"a3"}, "1", "3"},
		{"wraps", cellFleet().without("a3"), all, call{cell: "3"}, []string{"a0", "b0"}, "3", "0"},
		{"unregistered cell by ring order", cellFleet().without("a2", "a3"), []string{"0", "1"}, call{cell: "2"}, []string{"a0", "b0"}, otherCell, "0"},
		{"cell-less instances serve every cell", cellFleet().add("z", stable("1.0.0", "")), all, call{cell: "1"}, []string{"a1", "z"}, "", ""},
		{"cell-less instances take a down cell", cellFleet().without("a1").add("z", stable("1.0.0", "")), all, call{cell: "1"}, []string{"z"}, "", ""},
		{"static addresses serve every cell", cellFleet().without("a1").add("s", nil), all, call{cell: "1"}, []string{"s"}, "", ""},
		{"instances without cells: no filtering", newFleet().add("p", stable("1.0.0", "")).add("q", nil), nil, call{cell: "1"}, []string{"p", "q"}, "", ""},
		{"gray follows its cell", cellFleet().add("c1", canary("2.0.0", "1")).add("c2", canary("2.0.0", "2")), all, call{version: "2.0.0", cell: "2"}, []string{"c2"}, "", ""},
		{"gray fails over within gray", cellFleet().add("c0", canary("2.0.0", "0")).add("c2", canary("2.0.0", "2")), all, call{version: "2.0.0", cell: "3"}, []string{"c0"}, "3", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPicker(tc.f.ready, testState(t, "", tc.registered...))
			wantOnly(t, tc.f.spread(t, p, tc.call, 200), tc.want...)
			if tc.from != "" {
				if got := failovers(t, tc.from, tc.to); got != 200 {
					t.Errorf("failovers %s->%s = %v, want 200", tc.from, tc.to, got)
				}
			}
		})
	}
}

func TestCellFailoverWithHashing(t *testing.T) {
	f := cellFleet().add("b2", stable("1.0.0", "2")).without("a1")
	p := newPicker(f.ready, testState(t, "x-tremolo-user-id", "0", "1", "2", "3"))
	first := f.pick(t, p, call{cell: "1", user: "42"})
	if first != "a2" && first != "b2" {
		t.Fatalf("cell 1 call went to %s, want cell 2 (a2 or b2)", first)
	}
	for range 50 {
		if got := f.pick(t, p, call{cell: "1", user: "42"}); got != first {
			t.Fatalf("user 42 moved from %s to %s", first, got)
		}
	}
}

func TestNoReadySubConns(t *testing.T) {
	p := newPicker(nil, testState(t, ""))
	_, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
	if !errors.Is(err, balancer.ErrNoSubConnAvailable) {
		t.Errorf("Pick with nothing READY: %v, want ErrNoSubConnAvailable", err)
	}
}

func TestNilContext(t *testing.T) {
	f := grayFleet()
	p := newPicker(f.ready, testState(t, "x-tremolo-user-id"))
	res, err := p.Pick(balancer.PickInfo{})
	if err != nil || res.SubConn == nil {
		t.Errorf("Pick without a context = %v, %v", res, err)
	}
}

func TestRoundRobin(t *testing.T) {
	f := newFleet().add("a", nil).add("b", nil).add("c", stable("1.0.0", ""))
	for _, hashKey := range []string{"", "x-tremolo-user-id"} {
		p := newPicker(f.ready, testState(t, hashKey))
		got := f.spread(t, p, call{}, 3000)
		for _, n := range []string{"a", "b", "c"} {
			if got[n] != 1000 {
				t.Errorf("hashKey %q, no key on the call: %v, want 1000 each", hashKey, got)
			}
		}
	}
}

func TestRoundRobinWeighted(t *testing.T) {
	f := newFleet().
		add("a", &discovery.Instance{Weight: 1}).
		add("b", &discovery.Instance{Weight: 2}).
		add("c", &discovery.Instance{Weight: 3}).
		add("z", &discovery.Instance{Weight: 0}) // 0 means 1
	p := newPicker(f.ready, testState(t, ""))
	got := f.spread(t, p, call{}, 7*100)
	if want := map[string]int{"a": 100, "b": 200, "c": 300, "z": 100}; !maps.Equal(got, want) {
		t.Errorf("weighted round robin: %v, want %v", got, want)
	}
	// Smooth: interleaved, not in bursts of weight (a round's end and the
	// next's start may repeat one instance).
	run, last := 0, ""
	for range 700 {
		n := f.pick(t, p, call{})
		if n == last {
			run++
		} else {
			run, last = 1, n
		}
		if run > 2 {
			t.Fatalf("%s picked %d times in a row", n, run)
		}
	}
}

func TestWeightCapped(t *testing.T) {
	f := newFleet().add("a", &discovery.Instance{Weight: 1 << 40}).add("b", &discovery.Instance{Weight: 1})
	p := newPicker(f.ready, testState(t, "x-tremolo-user-id"))
	got := f.spread(t, p, call{}, (MaxWeight+1)*10)
	if got["a"] != MaxWeight*10 || got["b"] != 10 {
		t.Errorf("weight 2^40 vs 1: %v, want a capped at %d:1", got, MaxWeight)
	}
}

// TestRelabelled checks that the resolver's latest Instance wins over the
// one the SubConn was created with: base keeps the old Address.
func TestRelabelled(t *testing.T) {
	f := newFleet().add("a", stable("1.0.0", "")).add("b", stable("1.0.0", ""))
	st := testState(t, "")
	st.instances = map[addrKey]*discovery.Instance{{addr: "b:8080"}: canary("1.1.0", "")}
	p := newPicker(f.ready, st)
	wantOnly(t, f.spread(t, p, call{}, 100), "a")
	wantOnly(t, f.spread(t, p, call{version: "1.1.0"}, 100), "b")
}

func TestPickAllocations(t *testing.T) {
	f := cellFleet().add("c", canary("2.0.0", "")).without("a1")
	p := newPicker(f.ready, testState(t, "x-tremolo-user-id", "0", "1", "2", "3"))
	for _, tc := range []struct {
		name string
		call call
		max  float64
	}{
		{"round robin, bare context", call{}, 0},
		// Reading each present metadata key copies its values once.
		{"hashed, user only", call{user: "42"}, 1},
		{"gray, cell failover, hashed", call{version: "2.0.0", cell: "1", user: "42"}, 3},
		{"experiment and failover", call{exp: "a=b,c=d", cell: "1"}, 2},
	} {
		info := balancer.PickInfo{Ctx: tc.call.ctx()}
		if n := testing.AllocsPerRun(200, func() { p.Pick(info) }); n > tc.max {
			t.Errorf("%s: Pick allocates %v times, want at most %v (metadata reads)", tc.name, n, tc.max)
		}
	}
}

// TestPickerDeterministic checks that two pickers of the same instances,
// as two clients build them, agree on every key.
func TestPickerDeterministic(t *testing.T) {
	f := ringFleet(10)
	p1 := newPicker(f.ready, testState(t, "x-tremolo-user-id"))
	// Another client: other SubConns, same addresses, other map order.
	g := ringFleet(10)
	p2 := newPicker(g.ready, testState(t, "x-tremolo-user-id"))
	for _, u := range users(2000) {
		if a, b := f.pick(t, p1, call{user: u}), g.pick(t, p2, call{user: u}); a != b {
			t.Fatalf("user %s: client 1 picks %s, client 2 %s", u, a, b)
		}
	}
}

// TestConcurrentPicks races picks of every kind on one picker (run with
// -race): the round-robin counters and the lazily created failover series
// are the only state a pick writes.
func TestConcurrentPicks(t *testing.T) {
	f := cellFleet().without("a1").add("c", canary("2.0.0", "0"))
	p := newPicker(f.ready, testState(t, "x-tremolo-user-id", "0", "1", "2", "3"))
	calls := []call{{}, {cell: "1"}, {cell: "7"}, {version: "2.0.0", cell: "3"}, {user: "42"}, {exp: "a=b", cell: "1", user: "9"}}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				c := calls[(g+i)%len(calls)]
				if _, err := p.Pick(balancer.PickInfo{Ctx: c.ctx()}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	if got := failovers(t, "1", "2"); got == 0 {
		t.Error("no failover from cell 1 counted")
	}
}
