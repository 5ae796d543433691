package dynconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Watcher.
type Options struct {
	// Logger receives applied and rejected changes. Default: discard.
	Logger *slog.Logger
	// Registerer receives the metrics (tremolo_dynconfig_*); nil: not
	// exported.
	Registerer prometheus.Registerer
	// StartWait bounds how long Start waits for the source's first
	// Snapshot. Past it, Start returns and the process runs with its
	// defaults until the documents arrive (an etcd that is down at startup
	// must not keep the process from serving). Default: 5s.
	StartWait time.Duration
}

// Watcher runs a Source and hands each document's changes to the
// subscribers of that document. It is the one place that decides what a
// change is (different bytes, or a document appearing or going) and what
// a refusal costs (a log line and a metric, never the process), so that
// every consumer of dynamic configuration behaves alike.
//
// Subscribers are called one at a time per subscription, never
// concurrently with themselves, and always with the newest state: when
// documents change faster than a subscriber applies them, the states in
// between are skipped.
type Watcher struct {
	src     Source
	opts    Options
	metrics *watcherMetrics

	mu    sync.Mutex
	docs  map[string][]byte
	rev   string
	known bool // a Snapshot has arrived
	subs  []*subscription

	ready     chan struct{} // closed by the first Snapshot
	readyOnce sync.Once

	life    sync.Mutex // guards started, cancel, done
	started bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when the dispatch loop ends
}

// subscription is one Subscribe call.
type subscription struct {
	name    string
	apply   func(data []byte, present bool) error
	removed atomic.Bool

	mu      sync.Mutex // serialises apply; guards the fields below
	offered bool       // apply has been called at least once
	data    []byte     // the state last offered, applied or not
	present bool
}

// NewWatcher returns a Watcher of src. It does nothing until Start.
func NewWatcher(src Source, opts Options) (*Watcher, error) {
	if src == nil {
		return nil, errors.New("dynconfig: NewWatcher given a nil Source")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StartWait <= 0 {
		opts.StartWait = 5 * time.Second
	}
	m, err := newWatcherMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Watcher{src: src, opts: opts, metrics: m, ready: make(chan struct{})}, nil
}

// Start starts following the source, and waits until its first Snapshot
// has been applied to the subscribers so far — at most StartWait, after
// which it logs a warning and returns nil while the Watcher keeps waiting
// in the background. It fails if the source cannot start, or if ctx ends
// first (then the Watcher is stopped).
func (w *Watcher) Start(ctx context.Context) error {
	w.life.Lock()
	if w.started {
		w.life.Unlock()
		return errors.New("dynconfig: Watcher started twice")
	}
	w.started = true
	runCtx, cancel := context.WithCancel(context.Background())
	ch, err := w.src.Watch(runCtx)
	if err != nil {
		cancel()
		w.life.Unlock()
		return err
	}
	w.cancel, w.done = cancel, make(chan struct{})
	go w.run(ch, w.done)
	w.life.Unlock()

	t := time.NewTimer(w.opts.StartWait)
	defer t.Stop()
	select {
	case <-w.ready:
		return nil
	case <-t.C:
		w.opts.Logger.Warn("dynconfig: no configuration yet; running with defaults until the documents arrive", slog.Duration("waited", w.opts.StartWait))
		return nil
	case <-ctx.Done():
		_ = w.Stop(context.Background())
		return fmt.Errorf("dynconfig: waiting for the first documents: %w", ctx.Err())
	}
}

// Stop stops following the source and waits (until ctx ends) for a
// subscriber call under way to return. Subscribers keep the configuration
// they have.
func (w *Watcher) Stop(ctx context.Context) error {
	w.life.Lock()
	cancel, done := w.cancel, w.done
	w.life.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("dynconfig: a subscriber is still applying a change: %w", ctx.Err())
	}
}

// run dispatches every Snapshot until the source closes its channel.
func (w *Watcher) run(ch <-chan Snapshot, done chan struct{}) {
	defer close(done)
	for s := range ch {
		w.dispatch(s)
	}
}

// dispatch records s as the current state and offers each subscriber its
// document.
func (w *Watcher) dispatch(s Snapshot) {
	w.mu.Lock()
	w.docs, w.rev, w.known = s.Documents, s.Revision, true
	subs := slices.Clone(w.subs)
	w.mu.Unlock()
	for _, sub := range subs {
		data, present := s.Documents[sub.name]
		w.offer(sub, data, present, s.Revision)
	}
	w.readyOnce.Do(func() { close(w.ready) })
}

// Subscribe calls apply with the document name's state now, if the
// Watcher knows it yet (otherwise when the first Snapshot arrives), and
// then after every change of that document — only when its bytes differ,
// or it appears or disappears. present is false when the document does
// not exist (data is nil then); a consumer usually falls back to its
// built-in defaults.
//
// apply must validate the whole document before changing anything, and
// return an error to refuse it: the Watcher then logs the refusal with the
// document's name, counts it in tremolo_dynconfig_rejected_total{name},
// and the consumer keeps running with the configuration it had (that is
// apply's job: the Watcher cannot undo what apply did). A refused document
// is not offered again until its bytes change. A panic in apply is a
// refusal too. data is apply's own copy.
//
// apply runs on the Watcher's goroutine (or, the first time, the
// caller's), one subscription after another: a slow apply — loading the
// edge's plugins — delays the changes of other documents, never loses
// them.
//
// The returned function ends the subscription; apply is not called once
// it has returned (except a call already under way, which it does not
// wait for, so that apply itself may call it).
func (w *Watcher) Subscribe(name string, apply func(data []byte, present bool) error) (unsubscribe func()) {
	if err := ValidName(name); err != nil {
		w.opts.Logger.Error("dynconfig: subscribing to a document that can never exist", slog.Any("error", err))
	}
	sub := &subscription{name: name, apply: apply}
	w.metrics.touch(name)
	w.mu.Lock()
	w.subs = append(w.subs, sub)
	known, rev := w.known, w.rev
	data, present := w.docs[name]
	// Locked before w.mu is released: a dispatch that follows waits for
	// this first call, so the states reach apply in order.
	sub.mu.Lock()
	w.mu.Unlock()
	if known {
		w.offerLocked(sub, data, present, rev)
	}
	sub.mu.Unlock()
	return func() {
		sub.removed.Store(true)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.subs = slices.DeleteFunc(w.subs, func(s *subscription) bool { return s == sub })
	}
}

// offer calls sub's apply with a document's state unless that state was
// offered last time, and records the outcome.
func (w *Watcher) offer(sub *subscription, data []byte, present bool, rev string) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	w.offerLocked(sub, data, present, rev)
}

// offerLocked is offer with sub.mu held.
func (w *Watcher) offerLocked(sub *subscription, data []byte, present bool, rev string) {
	if sub.removed.Load() {
		return
	}
	if sub.offered && sub.present == present && bytes.Equal(sub.data, data) {
		return
	}
	sub.offered, sub.data, sub.present = true, data, present
	if !present {
		data = nil
	}
	err := callApply(sub.apply, slices.Clone(data), present)
	log := w.opts.Logger.With(slog.String("name", sub.name), slog.String("revision", rev), slog.Bool("present", present), slog.Int("bytes", len(data)))
	if err != nil {
		w.metrics.rejected.WithLabelValues(sub.name).Inc()
		log.Error("dynconfig: document rejected; the previous configuration stays", slog.Any("error", err))
		return
	}
	w.metrics.applied.WithLabelValues(sub.name).Inc()
	w.metrics.lastApplied.WithLabelValues(sub.name).SetToCurrentTime()
	log.Info("dynconfig: document applied")
}

// callApply runs apply, turning a panic into an error: a consumer choking
// on a document must not take the process down with it.
func callApply(apply func([]byte, bool) error, data []byte, present bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("apply panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return apply(data, present)
}

// Revision returns the revision of the documents last received ("" before
// the first), for logs and debug pages.
func (w *Watcher) Revision() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rev
}
