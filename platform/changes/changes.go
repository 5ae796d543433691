// Package changes tells a process's caches that data they copied from its
// services may have changed.
//
// A service that owns data calls Changed after each committed write; a cache
// that holds data assembled from services (the feed's shared page) stamps
// what it stores with Version and treats a different Version as a miss. In
// the all-in-one process every write passes through the same Counter, so such
// caches never serve data older than the last write: a user who likes a video
// and reloads the feed sees the new count at once. Processes of a split
// deployment each have their own Counter, which sees only their own writes:
// there a cache's time-to-live bounds how stale it can be.
package changes

import (
	"sync/atomic"

	"go.uber.org/fx"
)

// Counter counts the committed writes of this process's services. The zero
// value is ready; a nil *Counter ignores Changed and reports version 0, so
// services built without one (in tests, say) need no special case.
type Counter struct {
	n atomic.Uint64
}

// New returns a Counter at version 0.
func New() *Counter { return new(Counter) }

// Changed records a committed write. Call it after the commit: a cache that
// reads the new version must find the new data.
func (c *Counter) Changed() {
	if c != nil {
		c.n.Add(1)
	}
}

// Version returns the number of writes recorded so far. Read it before
// reading the data a cache will hold: if a write lands in between, the
// stored version is already old and the entry is never served.
func (c *Counter) Version() uint64 {
	if c == nil {
		return 0
	}
	return c.n.Load()
}

// Module provides the process's Counter.
var Module = fx.Module("tremolo.changes", fx.Provide(New))
