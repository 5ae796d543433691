package ratelimit

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// MemoryOptions configure NewMemory. The zero value is usable.
type MemoryOptions struct {
	// MaxKeys bounds the number of buckets kept (default 100,000), so keys
	// derived from client input (IP addresses, user ids) cannot grow the
	// process without limit. When a shard is full, buckets that have
	// refilled are dropped first (losing nothing: a missing bucket is a full
	// one); if none has, the least recently used of a sample is dropped,
	// which forgives that key's debt.
	MaxKeys int
	// Shards is the number of independently locked maps (default 64), so
	// concurrent requests for different keys rarely wait for each other.
	Shards int
	// Now reads the clock (default time.Now); tests stop it.
	Now func() time.Time
}

// Memory is a Store that keeps buckets in the process. It is safe for
// concurrent use; the zero value is not usable, call NewMemory.
type Memory struct {
	shards  []memoryShard
	perCap  int
	seed    maphash.Seed
	now     func() time.Time
	started time.Time
}

type memoryShard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	_       [40]byte // keep shards' locks on separate cache lines
}

// bucket is the state of one key: the tokens it held at last (nanoseconds
// since the store started, on the monotonic clock), and the rate and burst
// of the last Take, which tell whether it has refilled by now.
type bucket struct {
	tokens float64
	last   time.Duration
	rate   float64
	burst  int
}

// NewMemory returns an empty in-process store.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 100_000
	}
	if opts.Shards <= 0 {
		opts.Shards = 64
	}
	if opts.Shards > opts.MaxKeys {
		opts.Shards = opts.MaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Memory{
		shards: make([]memoryShard, opts.Shards),
		perCap: (opts.MaxKeys + opts.Shards - 1) / opts.Shards,
		seed:   maphash.MakeSeed(),
		now:    opts.Now,
	}
	m.started = m.now()
	for i := range m.shards {
		m.shards[i].buckets = make(map[string]*bucket)
	}
	return m
}

// Take implements Store. It never fails except for invalid parameters and
// a context that has already ended.
func (m *Memory) Take(ctx context.Context, key string, rate float64, burst int, cost int) (Result, error) {
	if err := Validate(key, rate, burst, cost); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	now := m.now().Sub(m.started)
	s := &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[key]
	if !ok {
		if len(s.buckets) >= m.perCap {
			s.evict(now, m.perCap)
		}
		b = &bucket{tokens: float64(burst), last: now}
		s.buckets[strings.Clone(key)] = b // Store: key may be a view of the caller's buffer
	}
	var res Result
	b.tokens, res = refill(b.tokens, now-b.last, rate, burst, cost)
	b.last, b.rate, b.burst = now, rate, burst
	return res, nil
}

// Len returns the number of buckets kept, for tests and metrics.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// evictSample is how many buckets evict looks at to pick the least recently
// used one when none has refilled.
const evictSample = 16

// evict makes room in a full shard: it drops every bucket that has refilled
// by now, or, if none has, the least recently used of a few.
func (s *memoryShard) evict(now time.Duration, capacity int) {
	for k, b := range s.buckets {
		if b.tokens+(now-b.last).Seconds()*b.rate >= float64(b.burst) {
			delete(s.buckets, k)
		}
	}
	if len(s.buckets) < capacity {
		return
	}
	var (
		oldest string
		seen   int
		at     time.Duration
	)
	for k, b := range s.buckets { // map order is random: a cheap sample
		if seen == 0 || b.last < at {
			oldest, at = k, b.last
		}
		if seen++; seen == evictSample {
			break
		}
	}
	delete(s.buckets, oldest)
}
