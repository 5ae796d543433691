package retry

import (
	"math"
	"sync/atomic"
)

// budget is a callee's retry bucket, gRPC's retryThrottling: kept in
// thousandths of a token in one atomic integer, as gRPC's core does, so
// the call path never takes a lock.
type budget struct {
	milli     atomic.Int64
	max       int64
	ratio     int64
	threshold int64 // retries only while milli > threshold
}

func newBudget(maxTokens, tokenRatio float64) *budget {
	b := &budget{max: int64(math.Round(maxTokens * 1000)), ratio: int64(math.Round(tokenRatio * 1000))}
	b.threshold = b.max / 2
	b.milli.Store(b.max)
	return b
}

// success gives back a fraction of a token.
func (b *budget) success() {
	for {
		cur := b.milli.Load()
		if cur >= b.max {
			return
		}
		if b.milli.CompareAndSwap(cur, min(cur+b.ratio, b.max)) {
			return
		}
	}
}

// failure takes a token and reports whether a retry is still allowed.
func (b *budget) failure() bool {
	for {
		cur := b.milli.Load()
		next := max(cur-1000, 0)
		if b.milli.CompareAndSwap(cur, next) {
			return next > b.threshold
		}
	}
}

// tokens returns the tokens left, for tests.
func (b *budget) tokens() float64 { return float64(b.milli.Load()) / 1000 }
