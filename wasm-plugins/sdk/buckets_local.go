//go:build !(wasip1 && tremolo)

package sdk

import (
	"strings"
	"sync"
	"time"
)

type localBuckets struct {
	mu      sync.Mutex
	max     int
	buckets map[string]*bucket
}

// bucket is a token bucket; tokens are counted in thousandths so that
// rates below one a second stay exact.
type bucket struct {
	milli int64 // tokens × 1000
	last  time.Duration
	// The limit last taken with, for eviction.
	rateMilli, capMilli int64
}

func newLocalBuckets(max int) localBuckets {
	return localBuckets{max: max, buckets: make(map[string]*bucket)}
}

// clockStart makes monotonic readings of bucketNow.
var clockStart = time.Now()

// bucketNow is the clock of local buckets; tests replace it.
var bucketNow = func() time.Duration { return time.Since(clockStart) }

func (b *Buckets) take(key string, l Limit, cost int32) (int64, time.Duration, bool) {
	lb := &b.local
	now := bucketNow()
	capMilli := int64(l.Burst) * 1000
	lb.mu.Lock()
	defer lb.mu.Unlock()
	bk := lb.buckets[key]
	if bk == nil {
		if len(lb.buckets) >= lb.max {
			lb.evict(now)
		}
		bk = &bucket{milli: capMilli, last: now}
		lb.buckets[strings.Clone(key)] = bk // key may point into the request arena
	} else {
		refill(bk, now, l.RateMilli, capMilli)
	}
	bk.rateMilli, bk.capMilli = l.RateMilli, capMilli
	need := int64(cost) * 1000
	if bk.milli >= need {
		bk.milli -= need
		return bk.milli / 1000, 0, true
	}
	// (need-milli) thousandths at RateMilli thousandths a second.
	missing := need - bk.milli
	wait := time.Duration((missing*int64(time.Second) + l.RateMilli - 1) / l.RateMilli)
	return 0, wait, false
}

func refill(bk *bucket, now time.Duration, rateMilli, capMilli int64) {
	if elapsed := now - bk.last; elapsed > 0 {
		add := int64(float64(elapsed) * float64(rateMilli) / float64(time.Second))
		if add > 0 {
			bk.milli += add
			if bk.milli > capMilli {
				bk.milli = capMilli
			}
			// Advance by the time the added tokens took, so fractions
			// of a token are not lost between frequent calls.
			if bk.milli == capMilli {
				bk.last = now
			} else {
				bk.last += time.Duration(float64(add) * float64(time.Second) / float64(rateMilli))
			}
		}
	}
}

// evict drops buckets that have refilled to full, then, if that was not
// enough, arbitrary ones, down to 90% of max.
func (lb *localBuckets) evict(now time.Duration) {
	for k, bk := range lb.buckets {
		refill(bk, now, bk.rateMilli, bk.capMilli)
		if bk.milli >= bk.capMilli {
			delete(lb.buckets, k)
		}
	}
	target := lb.max * 9 / 10
	for k := range lb.buckets {
		if len(lb.buckets) <= target {
			break
		}
		delete(lb.buckets, k)
	}
}
