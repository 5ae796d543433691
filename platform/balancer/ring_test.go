package balancer

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/tremolo-dev/tremolo/platform/discovery"
)

func ringFleet(n int) *fleet {
	f := newFleet()
	for i := range n {
		f.add(fmt.Sprintf("10.0.0.%d", i+1), stable("1.0.0", ""))
	}
	return f
}

func users(n int) []string {
	u := make([]string, n)
	for i := range u {
		u[i] = strconv.Itoa(1000000 + i*7919)
	}
	return u
}

// assign maps each user to an instance.
func assign(t *testing.T, f *fleet, vnodes int, us []string) map[string]string {
	t.Helper()
	st := testState(t, "x-tremolo-user-id")
	st.cfg.VirtualNodes = vnodes
	p := newPicker(f.ready, st)
	m := make(map[string]string, len(us))
	for _, u := range us {
		m[u] = f.pick(t, p, call{user: u})
	}
	return m
}

func TestHashStable(t *testing.T) {
	f := ringFleet(10)
	p := newPicker(f.ready, testState(t, "x-tremolo-user-id"))
	for _, u := range users(500) {
		first := f.pick(t, p, call{user: u})
		for range 5 {
			if got := f.pick(t, p, call{user: u}); got != first {
				t.Fatalf("user %s went to %s, then %s", u, first, got)
			}
		}
	}
	// A picker rebuilt on the same set (another instance's READY flap
	// elsewhere) keeps every user in place.
	before := assign(t, f, 100, users(2000))
	after := assign(t, f, 100, users(2000))
	for u, a := range before {
		if after[u] != a {
			t.Fatalf("user %s moved from %s to %s on a rebuild", u, a, after[u])
		}
	}
}

func TestHashSpread(t *testing.T) {
	f := ringFleet(10)
	count := map[string]int{}
	us := users(20000)
	for _, inst := range assign(t, f, DefaultVirtualNodes, us) {
		count[inst]++
	}
	if len(count) != 10 {
		t.Fatalf("users reached %d instances of 10: %v", len(count), count)
	}
	for inst, n := range count {
		if share := float64(n) / float64(len(us)); share < 0.07 || share > 0.13 {
			t.Errorf("%s has %.3f of the users, want 0.1±0.03", inst, share)
		}
	}
}

func TestHashMovesOnlyNewInstanceShare(t *testing.T) {
	us := users(20000)
	before := assign(t, ringFleet(10), DefaultVirtualNodes, us)
	bigger := ringFleet(10).add("10.0.0.99", stable("1.0.0", ""))
	after := assign(t, bigger, DefaultVirtualNodes, us)
	moved := 0
	for u, a := range before {
		if after[u] != a {
			moved++
			if after[u] != "10.0.0.99" {
				t.Fatalf("user %s moved between old instances, %s to %s", u, a, after[u])
			}
		}
	}
	// The new instance's fair share is 1/11 ≈ 0.091.
	if frac := float64(moved) / float64(len(us)); frac < 0.06 || frac > 0.13 {
		t.Errorf("%.3f of the users moved when an 11th instance joined, want about 1/11", frac)
	}

	// Removing one moves only that one's users.
	smaller := ringFleet(10).without("10.0.0.4")
	after = assign(t, smaller, DefaultVirtualNodes, us)
	for u, a := range before {
		if a != "10.0.0.4" && after[u] != a {
			t.Fatalf("user %s moved from %s to %s when 10.0.0.4 left", u, a, after[u])
		}
	}
}

func TestHashWeighted(t *testing.T) {
	f := newFleet().
		add("a", &discovery.Instance{Weight: 1}).
		add("b", &discovery.Instance{Weight: 3})
	count := map[string]int{}
	us := users(20000)
	// Two instances' shares vary by about 1/sqrt(points); 400 points
	// each keep the test's margin honest.
	for _, inst := range assign(t, f, 400, us) {
		count[inst]++
	}
	if share := float64(count["b"]) / float64(len(us)); share < 0.71 || share > 0.79 {
		t.Errorf("weight 3 of 4 got %.3f of the users, want 0.75±0.04", share)
	}
}

func TestRingLookupWraps(t *testing.T) {
	r := ring{{hash: 10, idx: 0}, {hash: 20, idx: 1}, {hash: 30, idx: 2}}
	for _, tc := range []struct {
		h    uint64
		want uint32
	}{{0, 0}, {10, 0}, {11, 1}, {20, 1}, {29, 2}, {30, 2}, {31, 0}, {^uint64(0), 0}} {
		if got := r.lookup(tc.h); got != tc.want {
			t.Errorf("lookup(%d) = %d, want %d", tc.h, got, tc.want)
		}
	}
}
