// Package rowcache keeps what a store read from its database, per key (a
// user, say), for a store that is the only writer of that database.
//
// A store may answer a hot read from memory only if it learns of every write
// to the rows behind it. That holds when its process owns the database
// (sqldb.DB.Owned: a SQLite file is locked to one process) and every write
// goes through the store, which calls Invalidate after it commits. Over a
// database others write to (PostgreSQL, shared by replicas), pass a nil
// *Cache: it keeps nothing, and every read goes to the database.
//
// # Reads racing writes
//
// A read that misses goes to the database and then offers its answer with
// Add. A write may commit while that read is under way, and the read may have
// seen the rows before it: adding that answer after the write's Invalidate
// would keep a stale answer for good. So a reader takes a Ticket before it
// reads, and Add keeps the answer only if no Invalidate (of any key) came
// since. Writes are rare next to reads, so losing an answer now and then to
// an unrelated write costs little; being wrong would cost a user their own
// like.
//
// A reader that hits the cache between a write's commit and its Invalidate
// sees the old answer, but the write has not returned to its caller yet, so
// no one can tell the read came before it.
package rowcache

import "sync"

// Cache maps keys to values read from the database, up to a bound. The nil
// *Cache is valid: it misses every Get and keeps nothing. Methods are safe
// for concurrent use.
type Cache[K comparable, V any] struct {
	mu      sync.Mutex
	max     int
	entries map[K]V
	// epoch counts Invalidate calls; a Ticket is the epoch a read began in.
	epoch uint64
}

// Ticket marks when a read of the database began: see Cache.Add.
type Ticket uint64

// New returns a cache of at most size entries; size < 1 means 1.
func New[K comparable, V any](size int) *Cache[K, V] {
	return &Cache[K, V]{max: max(size, 1), entries: make(map[K]V)}
}

// Get returns the value kept for k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	if c == nil {
		var zero V
		return zero, false
	}
	c.mu.Lock()
	v, ok := c.entries[k]
	c.mu.Unlock()
	return v, ok
}

// Ticket returns the ticket to take before reading the database for a value
// to Add.
func (c *Cache[K, V]) Ticket() Ticket {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return Ticket(c.epoch)
}

// Add keeps v for k, unless some key was invalidated since t was taken (the
// database may have changed under the read that produced v). It reports
// whether v was kept. A full cache first drops an arbitrary entry: the
// entries are cheap to read again, and a recency list would cost every Get a
// write.
func (c *Cache[K, V]) Add(t Ticket, k K, v V) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if uint64(t) != c.epoch {
		return false
	}
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for old := range c.entries { // map order: an arbitrary entry
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = v
	return true
}

// Invalidate forgets k's value; the store calls it after each write to k's
// rows commits (and before the write returns to its caller).
func (c *Cache[K, V]) Invalidate(k K) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.entries, k)
}

// Len returns the number of entries kept.
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
