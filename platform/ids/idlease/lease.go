package idlease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tremolo-dev/tremolo/platform/ids"
)

// ErrLost is wrapped by the error Next returns while the Lease holds no
// node id it can vouch for: keep-alives have failed for too long, or its
// key is gone. The Lease is regaining one in the background; callers fail
// the request (ids are not optional) and retry later.
var ErrLost = errors.New("idlease: no node id leased")

// ErrClosed is wrapped by the error Next returns after Close.
var ErrClosed = errors.New("idlease: the lease is closed")

// Lease is a node id leased from etcd and the generator that uses it. It
// issues ids only while it can prove that no other process holds its node
// id (package documentation). It is safe for concurrent use.
type Lease struct {
	cli     *clientv3.Client
	opts    Options
	metrics *metrics

	// issue serialises Next, so that a Next under way finishes with the
	// claim it started with, and ids strictly increase.
	issue sync.Mutex

	mu      sync.Mutex // guards the fields below
	cur     *claim     // nil while none is held
	gen     *ids.Generator
	node    int64 // the node id of cur, or of the last claim
	floorMs int64 // ids are issued only in later milliseconds (Unix)
	lastID  int64 // the last id returned, 0 before the first
	lost    string
	closed  bool
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// Acquire claims a free node id under opts.Prefix and keeps it leased
// until Close. It fails if etcd cannot be reached within the TTL or if
// every node id is held (the error wraps ErrNoFreeNode and says how many
// ids the space has).
func Acquire(ctx context.Context, cli *clientv3.Client, opts Options) (*Lease, error) {
	l, err := newLease(cli, opts)
	if err != nil {
		return nil, err
	}
	if err := l.start(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// newLease returns a Lease that holds nothing until start.
func newLease(cli *clientv3.Client, opts Options) (*Lease, error) {
	if cli == nil {
		return nil, errNoClient
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Lease{cli: cli, opts: opts, metrics: m, node: -1, lost: "not acquired yet"}, nil
}

// start claims a node id and starts keeping it.
func (l *Lease) start(ctx context.Context) error {
	l.mu.Lock()
	if l.started || l.closed {
		l.mu.Unlock()
		return errors.New("idlease: Lease started twice, or after Close")
	}
	l.started = true
	l.mu.Unlock()
	c, err := l.claimNode(ctx, -1)
	if err != nil {
		return err
	}
	if err := l.install(c); err != nil {
		l.revoke(c.lease)
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l.mu.Lock()
	l.cancel, l.done = cancel, make(chan struct{})
	l.mu.Unlock()
	go l.run(runCtx, c)
	return nil
}

// startOrKeepTrying is start for a process that must come up while etcd
// is away: it tries to claim a node id for at most wait, and if etcd does
// not answer (or every id is taken) it starts anyway and keeps trying in
// the background. Until it holds one, Next fails with ErrLost, so the
// process serves everything but the calls that make ids.
func (l *Lease) startOrKeepTrying(ctx context.Context, wait time.Duration) error {
	l.mu.Lock()
	if l.started || l.closed {
		l.mu.Unlock()
		return errors.New("idlease: Lease started twice, or after Close")
	}
	l.started = true
	l.mu.Unlock()
	first, cancelFirst := context.WithTimeout(ctx, wait)
	c, err := l.claimNode(first, -1)
	cancelFirst()
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		cancel()
		if c != nil {
			l.revoke(c.lease)
		}
		return ErrClosed
	}
	l.cancel, l.done = cancel, done
	l.mu.Unlock()
	if err == nil {
		if err := l.install(c); err != nil {
			l.revoke(c.lease)
			cancel()
			close(done)
			return err
		}
		go l.run(runCtx, c)
		return nil
	}
	l.opts.Logger.Warn("idlease: no node id yet; starting without one and trying in the background (ids fail until one is leased)", slog.Any("error", err))
	go func() {
		delay := 100 * time.Millisecond
		for {
			c, err := l.claimNode(runCtx, -1)
			if err == nil {
				if err := l.install(c); err != nil { // closed meanwhile
					l.revoke(c.lease)
					close(done)
					return
				}
				l.run(runCtx, c) // closes done
				return
			}
			select {
			case <-runCtx.Done():
				close(done)
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 2*time.Second)
		}
	}()
	return nil
}

// install makes c the current claim, with a new generator whose ids come
// after every id issued so far and every millisecond the previous holder
// of the node id used.
func (l *Lease) install(c *claim) error {
	gen, err := ids.New(c.node)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	floor := c.untilMs
	if l.lastID > 0 {
		floor = max(floor, unixMilli(l.lastID))
	}
	l.cur, l.gen, l.node, l.floorMs, l.lost = c, gen, c.node, floor, ""
	l.metrics.node.Set(float64(c.node))
	l.opts.Logger.Info("idlease: node id leased", slog.Int64("node", c.node), slog.String("key", c.key), slog.String("lease", fmt.Sprintf("%x", int64(c.lease))), slog.Duration("ttl", c.ttl))
	return nil
}

// lose drops c (if it is still current) for the reason given; count is
// false when the loss was already counted (the deadline passed before).
func (l *Lease) lose(c *claim, reason string, count bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur != c {
		return
	}
	l.cur, l.gen, l.lost = nil, nil, fmt.Sprintf("node id %d (%s) was lost: %s", c.node, c.key, reason)
	l.metrics.node.Set(-1)
	if count {
		l.metrics.lost.Inc()
	}
	l.opts.Logger.Error("idlease: node id lost; no ids until one is leased again", slog.Int64("node", c.node), slog.String("key", c.key), slog.String("reason", reason))
}

// Node returns the node id the ids carry: the one held now, or the last
// one held while none is (-1 before the first). It changes when the Lease
// has to claim a node id again and the old one was taken meanwhile.
func (l *Lease) Node() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.node
}

// Err returns nil if Next can issue ids now, or the error it would return.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.usableLocked(time.Now())
}

// usableLocked says why ids cannot be issued at now, or nil.
func (l *Lease) usableLocked(now time.Time) error {
	switch {
	case l.closed:
		return ErrClosed
	case l.cur == nil:
		return fmt.Errorf("%w: %s", ErrLost, l.lost)
	case !now.Before(l.cur.deadline):
		return fmt.Errorf("%w: node id %d (%s): no keep-alive of its lease answered for %v (TTL %v less margin %v); etcd may free it, so ids stop until etcd answers",
			ErrLost, l.cur.node, l.cur.key, now.Sub(l.cur.deadline)+l.cur.ttl-l.opts.Margin, l.cur.ttl, l.opts.Margin)
	}
	return nil
}

// Next returns a new id, greater than every id this Lease returned before.
// It fails, wrapping ErrLost, while no node id is safely held; or with the
// generator's error (ids.ErrClockMovedBackwards); or if this host's clock
// is more than Margin behind the last millisecond the previous holder of
// the node id used.
func (l *Lease) Next() (int64, error) {
	l.issue.Lock()
	defer l.issue.Unlock()
	l.mu.Lock()
	if err := l.usableLocked(time.Now()); err != nil {
		l.mu.Unlock()
		return 0, err
	}
	c, gen, floor := l.cur, l.gen, l.floorMs
	l.mu.Unlock()

	id, err := l.generate(gen, floor)
	if err != nil {
		return 0, err
	}
	// Only now, after the id's time was read, may the deadline be checked:
	// an id made after it could collide with the next holder's.
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(time.Now()); err != nil {
		return 0, err
	}
	if l.cur != c {
		return 0, fmt.Errorf("%w: node id %d changed while issuing", ErrLost, c.node)
	}
	l.lastID = id
	return id, nil
}

// generate returns gen's next id in a millisecond after floorMs, waiting
// up to Margin for the clock to get there.
func (l *Lease) generate(gen *ids.Generator, floorMs int64) (int64, error) {
	for {
		id, err := gen.Next()
		if err != nil {
			return 0, err
		}
		ms := unixMilli(id)
		if ms > floorMs {
			return id, nil
		}
		behind := time.Duration(floorMs-ms+1) * time.Millisecond
		if behind > l.opts.Margin {
			return 0, fmt.Errorf("idlease: node id %d: this clock is %v behind the last millisecond the node id was used in (by this process or the previous holder); refusing to issue ids that could repeat (tolerated: %v)", gen.Node(), behind, l.opts.Margin)
		}
		time.Sleep(behind)
	}
}

// unixMilli is the Unix millisecond an id was made in.
func unixMilli(id int64) int64 {
	t, _, _, err := ids.Parse(id)
	if err != nil {
		return 0
	}
	return t.UnixMilli()
}

// Close stops issuing ids, then frees the node id at once — recording the
// last millisecond used, for its next holder — and revokes the lease. The
// Lease is unusable afterwards. It does not close the etcd client.
func (l *Lease) Close(ctx context.Context) error {
	l.issue.Lock() // no Next under way
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.issue.Unlock()
		return nil
	}
	l.closed = true
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	l.issue.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("idlease: closing: %w", ctx.Err())
		}
	}
	l.mu.Lock()
	c, lastMs := l.cur, l.floorMs
	if l.lastID > 0 {
		lastMs = max(lastMs, unixMilli(l.lastID))
	}
	l.cur, l.gen, l.lost = nil, nil, "closed"
	l.mu.Unlock()
	l.metrics.node.Set(-1)
	if c == nil {
		return nil
	}
	// Past the TTL the lease expires by itself: waiting longer for an
	// unreachable etcd gains nothing.
	rctx, cancelRelease := context.WithTimeout(ctx, l.opts.TTL)
	defer cancelRelease()
	return l.release(rctx, c, lastMs)
}
