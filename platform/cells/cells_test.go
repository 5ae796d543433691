package cells

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// The placement is a contract shared with the colour plugins (Go and
// Rust) and with every user's stored cell: these values must never change.
func TestOfIsStable(t *testing.T) {
	for _, c := range []struct {
		id   string
		n, w int
	}{
		{"0", 16, 12}, {"0", 3, 1},
		{"1", 16, 6}, {"1", 3, 1},
		{"42", 16, 12}, {"42", 3, 0},
		{"7", 16, 7}, {"7", 3, 1},
		{"1000", 16, 13}, {"1000", 3, 2},
		{"244194803187712", 16, 6}, {"244194803187712", 3, 2},
		{"9223372036854775807", 16, 12}, {"9223372036854775807", 3, 2},
	} {
		if got := Of(c.id, c.n); got != c.w {
			t.Errorf("Of(%q, %d) = %d, want %d", c.id, c.n, got, c.w)
		}
	}
}

func TestOfBadCount(t *testing.T) {
	for _, n := range []int{0, -1, -1 << 62} {
		if got := Of("42", n); got != 0 {
			t.Errorf("Of(42, %d) = %d, want 0", n, got)
		}
	}
}

func TestOfSpreadsSequentialIDs(t *testing.T) {
	const n, users = 8, 80000
	var counts [n]int
	for i := 1; i <= users; i++ {
		counts[Of(strconv.Itoa(i), n)]++
	}
	for c, k := range counts {
		if k < users/n*9/10 || k > users/n*11/10 {
			t.Errorf("cell %d has %d of %d users, want within 10%% of %d", c, k, users, users/n)
		}
	}
}

func healthySet(cells ...string) func(string) bool {
	return func(c string) bool { return slices.Contains(cells, c) }
}

func TestFailover(t *testing.T) {
	all := []string{"0", "1", "2", "3"}
	for _, tc := range []struct {
		name    string
		cell    string
		healthy []string
		cells   []string
		want    string
		ok      bool
	}{
		{"healthy stays", "1", []string{"0", "1", "2", "3"}, all, "1", true},
		{"next in ring", "1", []string{"0", "2", "3"}, all, "2", true},
		{"skips unhealthy", "1", []string{"0", "3"}, all, "3", true},
		{"wraps", "3", []string{"0", "1", "2"}, all, "0", true},
		{"wraps past unhealthy", "3", []string{"1", "2"}, all, "1", true},
		{"none healthy", "1", nil, all, "", false},
		{"empty cell", "", all, all, "", false},
		{"no cells", "1", nil, nil, "", false},
		{"healthy though unlisted", "9", []string{"9"}, all, "9", true},
		{"unlisted placed by order", "15", []string{"2", "20"}, []string{"2", "20"}, "20", true},
		{"unlisted wraps", "25", []string{"2", "20"}, []string{"20", "2"}, "2", true},
		{"numeric order", "2", []string{"10", "3"}, []string{"10", "2", "3"}, "3", true},
		{"numbers before names", "9", []string{"a", "1"}, []string{"a", "9", "1"}, "a", true},
		{"names bytewise", "c1", []string{"c0", "c2"}, []string{"c2", "c1", "c0"}, "c2", true},
		{"order and duplicates do not matter", "1", []string{"0", "3"}, []string{"3", "", "1", "0", "3", "1"}, "3", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Failover(tc.cell, healthySet(tc.healthy...), tc.cells)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Failover(%q, healthy %v, %v) = %q, %v; want %q, %v", tc.cell, tc.healthy, tc.cells, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestFailoverNilHealthy(t *testing.T) {
	if got, ok := Failover("1", nil, []string{"1", "2"}); ok || got != "" {
		t.Errorf("Failover with nil healthy = %q, %v; want \"\", false", got, ok)
	}
}

// TestFailoverMatchesRing checks Failover against a literal walk of the
// sorted ring, for random health.
func TestFailoverMatchesRing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "x", "y"}
	for range 2000 {
		cells := slices.Clone(names)
		rng.Shuffle(len(cells), func(i, j int) { cells[i], cells[j] = cells[j], cells[i] })
		cells = cells[:1+rng.IntN(len(cells))]
		up := map[string]bool{}
		for _, c := range cells {
			up[c] = rng.IntN(3) == 0
		}
		cell := names[rng.IntN(len(names))]
		healthy := func(c string) bool { return up[c] }

		ring := slices.Clone(cells)
		if !slices.Contains(ring, cell) {
			ring = append(ring, cell)
		}
		slices.SortFunc(ring, Compare)
		want, wantOK := "", false
		start := slices.Index(ring, cell)
		for k := range len(ring) {
			if c := ring[(start+k)%len(ring)]; up[c] {
				want, wantOK = c, true
				break
			}
		}
		got, ok := Failover(cell, healthy, cells)
		if got != want || ok != wantOK {
			t.Fatalf("Failover(%q) over %v healthy %v = %q, %v; ring walk gives %q, %v", cell, cells, up, got, ok, want, wantOK)
		}
	}
}

func TestFailoverAllocatesNothing(t *testing.T) {
	cells := []string{"0", "1", "2", "3"}
	healthy := healthySet("3")
	if n := testing.AllocsPerRun(100, func() { Failover("1", healthy, cells) }); n != 0 {
		t.Errorf("Failover allocates %v times per call", n)
	}
}

func TestCompare(t *testing.T) {
	sorted := []string{"0", "1", "2", "007", "7", "10", "18446744073709551616", "a", "b10", "b2"}
	for i := range sorted {
		for j := range sorted {
			if got, want := Compare(sorted[i], sorted[j]), cmpInt(i, j); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", sorted[i], sorted[j], got, want)
			}
		}
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
