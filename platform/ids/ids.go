// Package ids generates unique, time-ordered 64-bit identifiers that stay
// below 2^53, so that JavaScript and any other client decoding JSON numbers as
// IEEE-754 doubles reads every id exactly.
//
// # Layout
//
// An id is a non-negative int64 made of three fields, most significant first:
//
//	bits 52..12  41 bits  milliseconds since Epoch (2025-01-01T00:00:00Z)
//	bits 11..7    5 bits  node id, 0..31
//	bits  6..0    7 bits  sequence within the millisecond, 0..127
//
// 41+5+7 = 53 bits, so every id is < 2^53 (MaxID). The consequences:
//
//   - ids sort by creation time (to the millisecond) across all nodes, and
//     strictly increase within one Generator;
//   - one Generator hands out at most 128 ids per millisecond (128,000 per
//     second); a caller asking for more waits for the next millisecond;
//   - at most 32 generators (nodes) may run at once; two generators with the
//     same node id WILL produce duplicates, so node ids must be assigned
//     uniquely (for example one per service replica);
//   - the time field lasts 2^41 ms ≈ 69.7 years, until 2094-09-07; after that
//     Next returns an error rather than wrapping around.
package ids

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Bit widths of the three fields. They are constants rather than options
// because every id ever issued must be decodable by Parse: changing them would
// silently reinterpret stored ids.
const (
	// TimeBits is the width of the millisecond timestamp field.
	TimeBits = 41
	// NodeBits is the width of the node id field.
	NodeBits = 5
	// SeqBits is the width of the per-millisecond sequence field.
	SeqBits = 7
)

const (
	// MaxNode is the largest node id New accepts.
	MaxNode = 1<<NodeBits - 1
	// MaxSeq is the largest sequence number within one millisecond; a
	// Generator issues at most MaxSeq+1 ids per millisecond.
	MaxSeq = 1<<SeqBits - 1
	// MaxID is the largest id that can ever be produced: 2^53-1, the largest
	// integer a float64 represents exactly together with all smaller ones.
	MaxID = 1<<(TimeBits+NodeBits+SeqBits) - 1

	maxMillis  = 1<<TimeBits - 1
	nodeShift  = SeqBits
	timeShift  = SeqBits + NodeBits
	nodeMask   = MaxNode << nodeShift
	seqMask    = MaxSeq
	defaultMax = 50 * time.Millisecond
)

// Epoch is the instant the timestamp field counts from. A custom epoch, rather
// than the Unix one, is what lets 41 bits of milliseconds last until 2094.
var Epoch = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// ErrClockMovedBackwards is returned by Next when the clock reads more than
// the tolerated amount (see WithMaxBackwardsWait) earlier than the last id's
// timestamp. Handing out an id then could duplicate one already issued, so
// the generator refuses until the clock catches up.
var ErrClockMovedBackwards = errors.New("ids: clock moved backwards")

// ErrOutOfRange is returned by Next when the clock is before Epoch or so far
// after it that the timestamp no longer fits in TimeBits.
var ErrOutOfRange = errors.New("ids: clock outside the representable time range")

// Clock is the time source of a Generator. It is an interface so tests can
// drive a generator with a fake clock, including one that jumps backwards.
type Clock interface {
	// Now returns the current wall-clock time.
	Now() time.Time
	// Sleep blocks for d; a fake clock advances itself instead.
	Sleep(d time.Duration)
}

type systemClock struct{}

func (systemClock) Now() time.Time        { return time.Now() }
func (systemClock) Sleep(d time.Duration) { time.Sleep(d) }

// Option configures a Generator created by New.
type Option func(*Generator)

// WithClock replaces the system clock, mainly for tests.
func WithClock(c Clock) Option {
	return func(g *Generator) { g.clock = c }
}

// WithMaxBackwardsWait sets how far the clock may step backwards (as NTP may
// do after correcting drift) before Next gives up with ErrClockMovedBackwards
// instead of waiting for it to catch up. The default is 50ms; 0 makes any
// backwards step an error.
func WithMaxBackwardsWait(d time.Duration) Option {
	return func(g *Generator) { g.maxBackwards = d }
}

// Issuer hands out ids: a Generator with a fixed node id, or a node id
// leased from etcd (package idlease), which a fleet uses so that no two
// live replicas share one.
type Issuer interface {
	// Next returns a new id, greater than every id the Issuer returned
	// before, or an error when it cannot safely make one.
	Next() (int64, error)
}

var _ Issuer = (*Generator)(nil)

// Generator issues ids for one node. It is safe for concurrent use; all
// methods serialise on an internal mutex.
type Generator struct {
	node         int64
	clock        Clock
	maxBackwards time.Duration

	mu     sync.Mutex
	lastMs int64 // timestamp field of the last issued id, -1 before the first
	seq    int64 // sequence of the last issued id
}

// New returns a Generator for node, which must be in [0, MaxNode] and unique
// among all generators running at the same time.
func New(node int64, opts ...Option) (*Generator, error) {
	if node < 0 || node > MaxNode {
		return nil, fmt.Errorf("ids: node id %d out of range [0, %d]", node, MaxNode)
	}
	g := &Generator{node: node, clock: systemClock{}, maxBackwards: defaultMax, lastMs: -1}
	for _, o := range opts {
		o(g)
	}
	if g.clock == nil {
		return nil, errors.New("ids: WithClock given a nil Clock")
	}
	if g.maxBackwards < 0 {
		return nil, fmt.Errorf("ids: WithMaxBackwardsWait given a negative duration %v", g.maxBackwards)
	}
	return g, nil
}

// Node returns the node id this generator embeds in its ids.
func (g *Generator) Node() int64 { return g.node }

// Next returns a new id, strictly greater than every id this Generator
// returned before. When the current millisecond's sequence is used up it
// waits for the next millisecond; when the clock has stepped back by at most
// the tolerated amount it waits for the clock to catch up. It never returns a
// duplicate: on a larger backwards step it returns ErrClockMovedBackwards, and
// outside the representable time range ErrOutOfRange.
func (g *Generator) Next() (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()

	for {
		now, err := g.millis()
		if err != nil {
			return 0, err
		}
		switch {
		case now > g.lastMs:
			g.lastMs, g.seq = now, 0
			return g.compose(), nil
		case now == g.lastMs:
			if g.seq < MaxSeq {
				g.seq++
				return g.compose(), nil
			}
			// Sequence exhausted: wait for the next millisecond.
			g.clock.Sleep(g.untilNextMs())
		default:
			behind := time.Duration(g.lastMs-now) * time.Millisecond
			if behind > g.maxBackwards {
				return 0, fmt.Errorf("%w by %v (tolerated: %v); refusing to issue ids until it catches up", ErrClockMovedBackwards, behind, g.maxBackwards)
			}
			g.clock.Sleep(behind)
		}
	}
}

// millis reads the clock as milliseconds since Epoch.
func (g *Generator) millis() (int64, error) {
	t := g.clock.Now()
	ms := t.UnixMilli() - Epoch.UnixMilli()
	if ms < 0 || ms > maxMillis {
		return 0, fmt.Errorf("%w: %v is not within [%v, %v]", ErrOutOfRange, t.UTC(), Epoch, Epoch.Add(maxMillis*time.Millisecond))
	}
	return ms, nil
}

// untilNextMs is how long to sleep so the clock reaches the millisecond after
// lastMs; at least a tiny positive duration so a coarse clock makes progress.
func (g *Generator) untilNextMs() time.Duration {
	next := Epoch.Add(time.Duration(g.lastMs+1) * time.Millisecond)
	d := next.Sub(g.clock.Now())
	if d <= 0 {
		d = 10 * time.Microsecond
	}
	return d
}

func (g *Generator) compose() int64 {
	return g.lastMs<<timeShift | g.node<<nodeShift | g.seq
}

// Parse splits an id into the creation time (millisecond precision, UTC), the
// node that issued it and its sequence number within that millisecond. It
// does not validate the id beyond its range: any value in [0, MaxID] decodes.
func Parse(id int64) (t time.Time, node, seq int64, err error) {
	if id < 0 || id > MaxID {
		return time.Time{}, 0, 0, fmt.Errorf("ids: %d is not a valid id: outside [0, %d]", id, int64(MaxID))
	}
	ms := id >> timeShift
	return Epoch.Add(time.Duration(ms) * time.Millisecond), (id & nodeMask) >> nodeShift, id & seqMask, nil
}
