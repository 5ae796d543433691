package sdk

import (
	"fmt"
	"time"
)

// Limit is the shape of a token bucket: it holds at most Burst tokens and
// gains RateMilli thousandths of a token per second (so 1500 is 1.5
// requests a second), the units of tremolo.bucket_take.
type Limit struct {
	RateMilli int64
	Burst     int32
}

// PerSecond returns the Limit of rate tokens a second and burst.
func PerSecond(rate float64, burst int) (Limit, error) {
	if !(rate > 0) || rate > 1e9 {
		return Limit{}, fmt.Errorf("rate %v must be above 0 and at most 1e9 a second", rate)
	}
	if burst < 1 || burst > 1<<30 {
		return Limit{}, fmt.Errorf("burst %d must be between 1 and %d", burst, 1<<30)
	}
	milli := int64(rate*1000 + 0.5)
	if milli < 1 {
		milli = 1
	}
	return Limit{RateMilli: milli, Burst: int32(burst)}, nil
}

// Buckets is a set of token buckets named by key. In the default
// (-tags tremolo) WebAssembly build they live in the host
// (tremolo.bucket_take), shared by the plugin's instances and, with Redis,
// by the edge's replicas; the host prefixes keys with the plugin's name.
// Otherwise each Buckets holds its own: per instance in WebAssembly, per
// middleware natively. It is safe for concurrent use.
type Buckets struct {
	local localBuckets
}

// NewBuckets returns an empty set. maxKeys bounds the buckets kept in
// memory when they are local: past it, full buckets are dropped first (a
// dropped bucket is a full one, so that is free), then arbitrary ones (which
// forgives their debt).
func NewBuckets(maxKeys int) *Buckets {
	if maxKeys < 1 {
		maxKeys = 1
	}
	return &Buckets{local: newLocalBuckets(maxKeys)}
}

// Take takes cost tokens from the bucket key of shape l. It returns the
// whole tokens left and true when there were enough; otherwise false and
// how long until there will be. The key is copied if kept.
func (b *Buckets) Take(key string, l Limit, cost int32) (left int64, retryAfter time.Duration, ok bool) {
	return b.take(key, l, cost)
}
