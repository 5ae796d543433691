package ids

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually driven Clock. Sleep advances it, so a generator
// waiting for time to pass makes progress instantly and deterministically.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	slept  time.Duration
	sleeps int
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	c.sleeps++
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func mustNew(t *testing.T, node int64, opts ...Option) *Generator {
	t.Helper()
	g, err := New(node, opts...)
	if err != nil {
		t.Fatalf("New(%d): %v", node, err)
	}
	return g
}

func mustNext(t *testing.T, g *Generator) int64 {
	t.Helper()
	id, err := g.Next()
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return id
}

func TestLayoutIs53Bits(t *testing.T) {
	if TimeBits+NodeBits+SeqBits != 53 {
		t.Fatalf("layout uses %d bits, want 53", TimeBits+NodeBits+SeqBits)
	}
	if MaxID != 1<<53-1 {
		t.Fatalf("MaxID = %d, want 2^53-1", int64(MaxID))
	}
	// The whole point: every id survives a round trip through float64.
	if int64(float64(int64(MaxID))) != MaxID {
		t.Fatalf("MaxID does not round-trip through float64")
	}
}

func TestNewRejectsNodeOutOfRange(t *testing.T) {
	for _, node := range []int64{-1, MaxNode + 1, 1 << 40} {
		if _, err := New(node); err == nil {
			t.Errorf("New(%d) succeeded, want an error", node)
		}
	}
	for _, node := range []int64{0, MaxNode} {
		if _, err := New(node); err != nil {
			t.Errorf("New(%d): %v", node, err)
		}
	}
}

func TestNextEncodesTimeNodeAndSequence(t *testing.T) {
	at := Epoch.Add(1234567 * time.Millisecond)
	clk := newFakeClock(at)
	g := mustNew(t, 7, WithClock(clk))

	for wantSeq := int64(0); wantSeq < 3; wantSeq++ {
		id := mustNext(t, g)
		ts, node, seq, err := Parse(id)
		if err != nil {
			t.Fatalf("Parse(%d): %v", id, err)
		}
		if !ts.Equal(at) || node != 7 || seq != wantSeq {
			t.Fatalf("Parse(%d) = (%v, %d, %d), want (%v, 7, %d)", id, ts, node, seq, at, wantSeq)
		}
	}
}

func TestSequenceExhaustionWaitsForNextMillisecond(t *testing.T) {
	start := Epoch.Add(time.Hour)
	clk := newFakeClock(start)
	g := mustNew(t, 1, WithClock(clk))

	var last int64 = -1
	for i := 0; i < MaxSeq+1; i++ {
		id := mustNext(t, g)
		if id <= last {
			t.Fatalf("id %d not greater than previous %d", id, last)
		}
		last = id
	}
	if clk.sleeps != 0 {
		t.Fatalf("generator slept %d times within its first %d ids", clk.sleeps, MaxSeq+1)
	}
	id := mustNext(t, g) // the 129th id in the same millisecond
	ts, _, seq, _ := Parse(id)
	if want := start.Add(time.Millisecond); !ts.Equal(want) || seq != 0 {
		t.Fatalf("after exhausting the sequence got (%v, seq %d), want (%v, seq 0)", ts, seq, want)
	}
	if clk.sleeps == 0 {
		t.Fatal("generator did not wait for the next millisecond")
	}
}

func TestSmallBackwardsStepWaitsAndNeverDuplicates(t *testing.T) {
	start := Epoch.Add(time.Hour)
	clk := newFakeClock(start)
	g := mustNew(t, 2, WithClock(clk), WithMaxBackwardsWait(20*time.Millisecond))

	before := mustNext(t, g)
	clk.Set(start.Add(-10 * time.Millisecond))
	after := mustNext(t, g)
	if after <= before {
		t.Fatalf("id after a backwards step %d is not greater than %d", after, before)
	}
	if clk.slept < 10*time.Millisecond {
		t.Fatalf("generator slept %v, want at least the 10ms the clock went back", clk.slept)
	}
}

func TestLargeBackwardsStepIsAnError(t *testing.T) {
	start := Epoch.Add(time.Hour)
	clk := newFakeClock(start)
	g := mustNew(t, 3, WithClock(clk), WithMaxBackwardsWait(20*time.Millisecond))

	before := mustNext(t, g)
	clk.Set(start.Add(-time.Second))
	if _, err := g.Next(); !errors.Is(err, ErrClockMovedBackwards) {
		t.Fatalf("Next after a 1s backwards step: err = %v, want ErrClockMovedBackwards", err)
	}
	// Once the clock has caught up, ids resume above the last one issued.
	clk.Set(start.Add(time.Millisecond))
	if after := mustNext(t, g); after <= before {
		t.Fatalf("id %d after recovery is not greater than %d", after, before)
	}
}

func TestZeroToleranceRejectsAnyBackwardsStep(t *testing.T) {
	start := Epoch.Add(time.Hour)
	clk := newFakeClock(start)
	g := mustNew(t, 3, WithClock(clk), WithMaxBackwardsWait(0))
	mustNext(t, g)
	clk.Set(start.Add(-time.Millisecond))
	if _, err := g.Next(); !errors.Is(err, ErrClockMovedBackwards) {
		t.Fatalf("err = %v, want ErrClockMovedBackwards", err)
	}
}

func TestClockOutsideRangeIsAnError(t *testing.T) {
	for _, at := range []time.Time{
		Epoch.Add(-time.Millisecond),
		Epoch.Add((1 << TimeBits) * time.Millisecond),
	} {
		g := mustNew(t, 0, WithClock(newFakeClock(at)))
		if _, err := g.Next(); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Next at %v: err = %v, want ErrOutOfRange", at, err)
		}
	}
	// The last representable millisecond still works and yields an id <= MaxID.
	g := mustNew(t, MaxNode, WithClock(newFakeClock(Epoch.Add((1<<TimeBits-1)*time.Millisecond))))
	if id := mustNext(t, g); id > MaxID || id < 0 {
		t.Fatalf("id at the end of the range = %d, want within [0, MaxID]", id)
	}
}

func TestParseRejectsOutOfRange(t *testing.T) {
	for _, id := range []int64{-1, MaxID + 1} {
		if _, _, _, err := Parse(id); err == nil {
			t.Errorf("Parse(%d) succeeded, want an error", id)
		}
	}
}

func TestConcurrentIdsAreUniqueAndPerGoroutineIncreasing(t *testing.T) {
	g := mustNew(t, 5)
	const workers, perWorker = 8, 2000
	results := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]int64, 0, perWorker)
			for range perWorker {
				id, err := g.Next()
				if err != nil {
					t.Errorf("Next: %v", err)
					return
				}
				out = append(out, id)
			}
			results[w] = out
		}()
	}
	wg.Wait()

	seen := make(map[int64]bool, workers*perWorker)
	for _, out := range results {
		for i, id := range out {
			if id < 0 || id > MaxID {
				t.Fatalf("id %d outside [0, 2^53)", id)
			}
			if seen[id] {
				t.Fatalf("duplicate id %d", id)
			}
			seen[id] = true
			if i > 0 && id <= out[i-1] {
				t.Fatalf("ids not increasing within a goroutine: %d after %d", id, out[i-1])
			}
			if _, node, _, _ := Parse(id); node != 5 {
				t.Fatalf("id %d carries node %d, want 5", id, node)
			}
		}
	}
	if len(seen) != workers*perWorker {
		t.Fatalf("got %d ids, want %d", len(seen), workers*perWorker)
	}
}

func TestRealClockIdsTrackWallTime(t *testing.T) {
	g := mustNew(t, 0)
	before := time.Now().Truncate(time.Millisecond)
	id := mustNext(t, g)
	after := time.Now()
	ts, _, _, _ := Parse(id)
	if ts.Before(before) || ts.After(after) {
		t.Fatalf("id time %v not within [%v, %v]", ts, before, after)
	}
}

func BenchmarkNext(b *testing.B) {
	g, err := New(1)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := g.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNextParallel(b *testing.B) {
	g, err := New(1)
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := g.Next(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
