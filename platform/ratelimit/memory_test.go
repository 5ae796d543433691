package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestMemory(opts MemoryOptions) (*Memory, *fakeClock) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	opts.Now = clock.Now
	return NewMemory(opts), clock
}

func mustTake(t *testing.T, s Store, key string, rate float64, burst, cost int) Result {
	t.Helper()
	res, err := s.Take(context.Background(), key, rate, burst, cost)
	if err != nil {
		t.Fatalf("Take(%q, %v, %d, %d): %v", key, rate, burst, cost, err)
	}
	return res
}

func TestMemoryBurstThenRefill(t *testing.T) {
	m, clock := newTestMemory(MemoryOptions{})
	for i := 2; i >= 0; i-- {
		if res := mustTake(t, m, "u1", 2, 3, 1); !res.Allowed || res.Remaining != i {
			t.Fatalf("take %d: %+v, want allowed with %d left", 3-i, res, i)
		}
	}
	res := mustTake(t, m, "u1", 2, 3, 1)
	if res.Allowed || res.RetryAfter != 500*time.Millisecond {
		t.Fatalf("4th take: %+v, want refused, retry after 500ms (1 token at 2/s)", res)
	}
	if other := mustTake(t, m, "u2", 2, 3, 1); !other.Allowed {
		t.Fatalf("another key shares the bucket: %+v", other)
	}
	clock.Advance(500 * time.Millisecond)
	if res := mustTake(t, m, "u1", 2, 3, 1); !res.Allowed || res.Remaining != 0 {
		t.Fatalf("after 500ms: %+v, want allowed with 0 left", res)
	}
	clock.Advance(time.Hour)
	if res := mustTake(t, m, "u1", 2, 3, 0); !res.Allowed || res.Remaining != 3 {
		t.Fatalf("after an hour, cost 0: %+v, want the burst (3) and nothing taken", res)
	}
}

func TestMemoryCostAndChangedLimit(t *testing.T) {
	m, _ := newTestMemory(MemoryOptions{})
	if res := mustTake(t, m, "k", 1, 10, 7); !res.Allowed || res.Remaining != 3 {
		t.Fatalf("cost 7 of 10: %+v", res)
	}
	res := mustTake(t, m, "k", 1, 10, 5)
	if res.Allowed || res.Remaining != 3 || res.RetryAfter != 2*time.Second {
		t.Fatalf("cost 5 with 3 left at 1/s: %+v, want refused, retry after 2s", res)
	}
	// A lower burst caps what is left at once.
	if res := mustTake(t, m, "k", 1, 2, 0); res.Remaining != 2 {
		t.Fatalf("burst lowered to 2: %+v, want 2 left", res)
	}
}

func TestValidate(t *testing.T) {
	m, _ := newTestMemory(MemoryOptions{})
	long := string(make([]byte, MaxKeyLen+1))
	for _, tc := range []struct {
		key         string
		rate        float64
		burst, cost int
	}{
		{"", 1, 1, 1},
		{long, 1, 1, 1},
		{"k", 0, 1, 1},
		{"k", -1, 1, 1},
		{"k", 1, 0, 0},
		{"k", 1, 1, -1},
		{"k", 1, 1, 2},
	} {
		if _, err := m.Take(context.Background(), tc.key, tc.rate, tc.burst, tc.cost); !errors.Is(err, ErrInvalid) {
			t.Errorf("Take(len %d, %v, %d, %d) = %v, want ErrInvalid", len(tc.key), tc.rate, tc.burst, tc.cost, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Take(ctx, "k", 1, 1, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Take with a cancelled context = %v", err)
	}
}

func TestMemoryBoundedKeys(t *testing.T) {
	m, clock := newTestMemory(MemoryOptions{MaxKeys: 64, Shards: 4})
	for i := range 1000 {
		mustTake(t, m, fmt.Sprint("ip-", i), 1, 5, 1)
	}
	if n := m.Len(); n > 64 {
		t.Fatalf("%d buckets kept, bound is 64", n)
	}
	// Once buckets have refilled, they are what goes first: a drained
	// recent bucket survives a flood of new keys.
	clock.Advance(time.Minute)
	mustTake(t, m, "drained", 1, 1, 1)
	for i := range 30 {
		mustTake(t, m, fmt.Sprint("new-", i), 1, 5, 1)
	}
	if res := mustTake(t, m, "drained", 1, 1, 1); res.Allowed {
		t.Fatalf("the drained bucket was evicted before refilled ones: %+v", res)
	}
}

// TestMemoryConcurrent takes from one bucket from many goroutines (run with
// -race): exactly burst takes are allowed while the clock stands still.
func TestMemoryConcurrent(t *testing.T) {
	m, _ := newTestMemory(MemoryOptions{})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 {
				res, err := m.Take(context.Background(), "shared", 1, 250, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 250 {
		t.Fatalf("%d takes allowed, want the burst (250)", got)
	}
}

func BenchmarkMemoryTake(b *testing.B) {
	m := NewMemory(MemoryOptions{})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("user-", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := m.Take(context.Background(), keys[i%len(keys)], 1e6, 100, 1); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// TestMemoryKeyFromReusedBuffer: Take may be given a view of a buffer the
// caller reuses (Store), as the WebAssembly host does; the buckets kept
// must not change when the buffer does.
func TestMemoryKeyFromReusedBuffer(t *testing.T) {
	m, _ := newTestMemory(MemoryOptions{Shards: 1})
	buf := []byte("user:1")
	view := unsafe.String(unsafe.SliceData(buf), len(buf))
	mustTake(t, m, view, 0.001, 2, 1) // user:1 has 1 left
	copy(buf, "user:2")
	mustTake(t, m, view, 0.001, 2, 1) // user:2 has 1 left
	if res := mustTake(t, m, "user:1", 0.001, 2, 1); !res.Allowed || res.Remaining != 0 {
		t.Fatalf("user:1's second take: %+v, want allowed with 0 left (its bucket kept under its own key)", res)
	}
	if res := mustTake(t, m, "user:2", 0.001, 2, 1); !res.Allowed || res.Remaining != 0 {
		t.Fatalf("user:2's second take: %+v, want allowed with 0 left", res)
	}
	if n := m.Len(); n != 2 {
		t.Fatalf("%d buckets, want 2", n)
	}
}
