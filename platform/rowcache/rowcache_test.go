package rowcache_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tremolo-dev/tremolo/platform/rowcache"
)

func TestAddGetInvalidate(t *testing.T) {
	c := rowcache.New[int64, string](10)
	if _, ok := c.Get(1); ok {
		t.Fatal("hit in an empty cache")
	}
	if !c.Add(c.Ticket(), 1, "a") {
		t.Fatal("Add with a fresh ticket not kept")
	}
	if v, ok := c.Get(1); !ok || v != "a" {
		t.Fatalf("Get(1) = %q, %v", v, ok)
	}
	c.Invalidate(1)
	if _, ok := c.Get(1); ok {
		t.Fatal("hit after Invalidate")
	}
}

// The race the package exists for: a read begins, a write commits and
// invalidates, the read then offers what it saw before the write.
func TestAddAfterAnInvalidateSinceTheTicketIsRefused(t *testing.T) {
	c := rowcache.New[int64, string](10)
	ticket := c.Ticket()
	c.Invalidate(2) // any key: the reader cannot know which rows it saw
	if c.Add(ticket, 1, "stale") {
		t.Fatal("Add kept a value read before a write")
	}
	if _, ok := c.Get(1); ok {
		t.Fatal("stale value visible")
	}
	if !c.Add(c.Ticket(), 1, "fresh") {
		t.Fatal("Add with a ticket taken after the write not kept")
	}
}

func TestBounded(t *testing.T) {
	c := rowcache.New[int, int](3)
	for i := range 100 {
		c.Add(c.Ticket(), i, i)
		if c.Len() > 3 {
			t.Fatalf("after %d adds Len = %d, bound 3", i+1, c.Len())
		}
	}
	if _, ok := c.Get(99); !ok {
		t.Fatal("the newest entry was dropped")
	}
}

func TestNilCacheKeepsNothing(t *testing.T) {
	var c *rowcache.Cache[int, int]
	if c.Add(c.Ticket(), 1, 1) {
		t.Fatal("nil cache kept a value")
	}
	c.Invalidate(1)
	if _, ok := c.Get(1); ok || c.Len() != 0 {
		t.Fatal("nil cache hit")
	}
}

// Readers and writers of one key, run with -race: a reader must never see a
// value older than the last write that returned before its Get. The
// "database" is a counter; a write bumps it and invalidates.
func TestNeverStaleUnderConcurrency(t *testing.T) {
	c := rowcache.New[int, int64](4)
	var db, returned atomic.Int64 // rows written; writes returned to their callers
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var violations atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := returned.Load()
				v, ok := c.Get(0)
				if !ok {
					t := c.Ticket()
					v = db.Load()
					c.Add(t, 0, v)
				}
				if v < floor {
					violations.Add(1)
				}
			}
		})
	}
	for range 20000 {
		n := db.Add(1) // the commit
		c.Invalidate(0)
		returned.Store(n)
	}
	close(stop)
	wg.Wait()
	if n := violations.Load(); n > 0 {
		t.Fatalf("%d reads saw a value older than a completed write", n)
	}
}
