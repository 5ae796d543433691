package discovery

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff spaces out the retries of a loop that talks to an unreachable
// backend: from min, doubling up to max, with ±20% jitter so that a fleet
// that lost etcd at once does not come back at once.
type backoff struct {
	min, max time.Duration
	next     time.Duration
}

// wait sleeps for the next delay or until ctx ends, reporting whether ctx
// is still live.
func (b *backoff) wait(ctx context.Context) bool {
	if b.next < b.min {
		b.next = b.min
	}
	d := b.next
	d += time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	b.next = min(2*b.next, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// reset starts the next outage's retries from min again.
func (b *backoff) reset() { b.next = b.min }
