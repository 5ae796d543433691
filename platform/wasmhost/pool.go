package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// instance is one instantiation of a plugin's module: a Go runtime with its
// own heap, used by one request at a time. The pool hands it out; whoever
// holds it owns it until release or discard.
type instance struct {
	mod            api.Module
	mem            api.Memory
	handleRequest  api.Function
	handleResponse api.Function // nil if the guest does not export it
	// features are those the guest enabled outside a request (during
	// _initialize): the defaults of every request on this instance.
	features featureSet
	// calls counts guest calls, for recycling after MaxCalls.
	calls int
	// stack is reused by CallWithStack, so a call does not allocate one.
	stack [2]uint64
	// stdout and stderr capture the guest's output, bounded, until the
	// host logs it after each call.
	stdout, stderr boundedBuffer
	// keys maps header names as the guest writes them to their canonical
	// form, for the names it uses on every request (see canonicalKey).
	keys map[string]string
	// retired is set by the guest (tremolo.retire): release discards the
	// instance after its request instead of pooling it.
	retired bool
	// keyBuf holds the bucket key of a bucket_take while the store looks
	// it up.
	keyBuf []byte
}

// boundedBuffer keeps the first limit bytes written to it and counts the
// rest. It is a guest's stdout or stderr: a guest printing in a loop costs
// the host a counter, not memory.
type boundedBuffer struct {
	buf     bytes.Buffer
	limit   int
	dropped int
}

// Write implements io.Writer; it never fails, so a guest's write succeeds
// whatever the host keeps.
func (b *boundedBuffer) Write(p []byte) (int, error) {
	room := b.limit - b.buf.Len()
	if room >= len(p) {
		b.buf.Write(p)
		return len(p), nil
	}
	if room > 0 {
		b.buf.Write(p[:room])
	}
	b.dropped += len(p) - max(room, 0)
	return len(p), nil
}

// flush logs what was captured, if anything, and empties the buffer.
func (b *boundedBuffer) flush(logger *slog.Logger, stream string) {
	if b.buf.Len() == 0 && b.dropped == 0 {
		return
	}
	logger.Warn("wasm plugin output", "stream", stream, "output", strings.TrimRight(b.buf.String(), "\n"), "dropped_bytes", b.dropped)
	b.buf.Reset()
	b.dropped = 0
}

// pool bounds and recycles a plugin's instances. A slot is a right to a
// live instance (idle or in use); there are PoolSize of them. A request
// takes an idle instance, or a slot to create one, or waits for either.
//
// Idle instances are reused last in, first out: under light load one or
// two instances serve every request and stay in the CPU's caches, where a
// queue would cycle through all of them, each cold (an instance is
// megabytes of guest memory). Only when requests are waiting do released
// instances go through the idle channel, to wake one.
type pool struct {
	p     *Plugin
	idle  chan *instance // to waiters
	slots chan struct{}
	done  chan struct{} // closed by close

	mu      sync.Mutex // guards closed against release, hot and waiting
	closed  bool
	hot     []*instance // idle instances, most recently released last
	waiting int         // acquirers blocked on idle

	refilling sync.Mutex // held by the goroutine replacing discarded warm instances
	refillWG  sync.WaitGroup
}

func newPool(p *Plugin, size int) *pool {
	return &pool{
		p:     p,
		idle:  make(chan *instance, size),
		slots: make(chan struct{}, size),
		done:  make(chan struct{}),
		hot:   make([]*instance, 0, size),
	}
}

// popHot takes the most recently released idle instance, if any. The
// caller holds mu.
func (pl *pool) popHot() *instance {
	n := len(pl.hot)
	if n == 0 {
		return nil
	}
	inst := pl.hot[n-1]
	pl.hot[n-1] = nil
	pl.hot = pl.hot[:n-1]
	return inst
}

// errPoolClosed and errPoolBusy are the acquisition failures; they become
// KindClosed and KindBusy.
var (
	errPoolClosed = errors.New("plugin closed")
	errPoolBusy   = errors.New("no instance free within PoolWait")
)

// acquire returns an instance for one request, waiting at most wait (and
// no longer than ctx) when all PoolSize instances are in use.
func (pl *pool) acquire(ctx context.Context, wait time.Duration) (*instance, error) {
	select {
	case <-pl.done:
		return nil, errPoolClosed
	default:
	}
	pl.mu.Lock()
	inst := pl.popHot()
	pl.mu.Unlock()
	if inst != nil {
		return inst, nil
	}
	select {
	case inst := <-pl.idle: // sent to a waiter that took a slot instead
		return inst, nil
	default:
	}
	select {
	case pl.slots <- struct{}{}:
		return pl.create(ctx)
	default:
	}
	pl.mu.Lock()
	if inst := pl.popHot(); inst != nil { // released meanwhile
		pl.mu.Unlock()
		return inst, nil
	}
	pl.waiting++
	pl.mu.Unlock()
	defer func() {
		pl.mu.Lock()
		pl.waiting--
		pl.mu.Unlock()
	}()
	pl.p.metrics.poolWaits.Inc()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case inst := <-pl.idle:
		return inst, nil
	case pl.slots <- struct{}{}:
		return pl.create(ctx)
	case <-pl.done:
		return nil, errPoolClosed
	case <-timer.C:
		return nil, errPoolBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// create instantiates into a slot the caller holds, giving the slot back
// if it fails.
func (pl *pool) create(ctx context.Context) (*instance, error) {
	inst, err := pl.p.instantiate(ctx)
	if err != nil {
		<-pl.slots
		return nil, err
	}
	pl.p.metrics.instances.Inc()
	pl.p.metrics.created.Inc()
	return inst, nil
}

// release returns a healthy instance after a request: to the idle set, or
// to the bin if it has served MaxCalls calls or its memory grew past
// RecycleAboveBytes (a Go guest's heap does not shrink; a fresh instance
// is cheaper than a bloated one).
func (pl *pool) release(inst *instance) {
	o := &pl.p.opts
	switch {
	case inst.retired:
		pl.discard(inst, discardRetired)
		return
	case o.MaxCalls > 0 && inst.calls >= o.MaxCalls:
		pl.discard(inst, discardMaxCalls)
		return
	case uint64(inst.mem.Size()) > o.RecycleAboveBytes:
		pl.discard(inst, discardMemory)
		return
	}
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		pl.discard(inst, discardClosed)
		return
	}
	if pl.waiting > 0 {
		pl.idle <- inst // never blocks: at most cap(idle) instances are live
	} else {
		pl.hot = append(pl.hot, inst)
	}
	pl.mu.Unlock()
}

// discard closes an instance and frees its slot. Instances that failed are
// always discarded: a trapped wazero module still accepts calls, but its
// Go runtime is in whatever state the trap left it.
func (pl *pool) discard(inst *instance, reason string) {
	// Closing only releases the instance's memory; its error says nothing
	// the caller can act on, and the module is unusable either way.
	if err := inst.mod.Close(context.Background()); err != nil {
		pl.p.logger.Debug("wasm plugin instance close", "error", err)
	}
	inst.stdout.flush(pl.p.logger, "stdout")
	inst.stderr.flush(pl.p.logger, "stderr")
	pl.p.metrics.discarded[reason].Inc()
	pl.p.metrics.instances.Dec()
	<-pl.slots
	if reason != discardClosed {
		pl.refill()
	}
}

// warm creates n instances into the idle set, one after the other, and
// returns how long it took.
func (pl *pool) warm(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		pl.slots <- struct{}{}
		inst, err := pl.create(ctx)
		if err != nil {
			return time.Since(start), fmt.Errorf("instance %d of %d: %w", i+1, n, err)
		}
		pl.mu.Lock()
		pl.hot = append(pl.hot, inst)
		pl.mu.Unlock()
	}
	return time.Since(start), nil
}

// refill starts, unless one is running, a goroutine that creates
// instances until Warm of them are live again, so a burst of failures does
// not leave the next requests paying for instantiation.
func (pl *pool) refill() {
	if !pl.refilling.TryLock() {
		return
	}
	pl.mu.Lock()
	if pl.closed { // close waits for refillWG: no Add after it started
		pl.mu.Unlock()
		pl.refilling.Unlock()
		return
	}
	pl.refillWG.Add(1)
	pl.mu.Unlock()
	go func() {
		defer pl.refillWG.Done()
		defer pl.refilling.Unlock()
		for len(pl.slots) < pl.p.opts.Warm {
			select {
			case <-pl.done:
				return
			case pl.slots <- struct{}{}:
			}
			inst, err := pl.create(context.Background())
			if err != nil {
				pl.p.logger.Error("wasm plugin: replacing a discarded instance", "error", err)
				return
			}
			pl.release(inst)
		}
	}()
}

// close stops handing out instances and discards the idle ones; those in
// use are discarded when released. It waits for live instances until ctx
// ends and reports whether all were gone.
func (pl *pool) close(ctx context.Context) error {
	pl.mu.Lock()
	if !pl.closed {
		pl.closed = true
		close(pl.done)
	}
	pl.mu.Unlock()
	pl.refillWG.Wait()
	pl.mu.Lock()
	hot := pl.hot
	pl.hot = nil
	pl.mu.Unlock()
	for _, inst := range hot {
		pl.discard(inst, discardClosed)
	}
	for {
		select {
		case inst := <-pl.idle:
			pl.discard(inst, discardClosed)
			continue
		default:
		}
		break
	}
	// A slot is held by every live instance and every one being created;
	// those in use come back through release, which discards them now.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(pl.slots) > 0 {
		select {
		case inst := <-pl.idle: // released between the drain and now
			pl.discard(inst, discardClosed)
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("%d instances still in use: %w", len(pl.slots), ctx.Err())
		}
	}
	return nil
}
