package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Watch follows the service's keys: a Get of the prefix, then a watch from
// the revision after it.
//
// While etcd is unreachable or the watch fails (compaction, lost leader),
// the watcher keeps the list it last sent, never an empty one, retries with
// backoff, and resyncs with a fresh Get when etcd answers. If etcd does not
// answer the first Get within EtcdOptions.Timeout, the watcher sends the
// service's snapshot (EtcdOptions.SnapshotDir), or an empty list when there
// is none, and then the live list when etcd answers.
//
// Values under the prefix that are not valid instances of the service are
// skipped and logged.
func (e *Etcd) Watch(ctx context.Context, service string) (<-chan []Instance, error) {
	if err := checkService(service); err != nil {
		return nil, fmt.Errorf("discovery: watch: %w", err)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	e.loops.Add(1)
	e.mu.Unlock()

	w := &etcdWatch{
		e:       e,
		service: service,
		prefix:  e.prefix + service + "/",
		out:     newLatest(),
		log:     e.log.With(slog.String("service", service)),
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(e.ctx, cancel) // Close ends the watch
	go func() {
		defer e.loops.Done()
		defer w.out.close()
		defer cancel()
		defer stop()
		w.run(ctx)
	}()
	return w.out.ch, nil
}

// etcdWatch is the loop behind one Watch.
type etcdWatch struct {
	e       *Etcd
	service string
	prefix  string // <prefix><service>/
	out     *latest
	log     *slog.Logger

	instances map[string]Instance // by id, as etcd (or the snapshot) says
	sent      bool                // a list went out
	saved     []Instance          // the list last written to the snapshot
	savedOnce bool
}

// run alternates resyncs and watches until ctx ends.
func (w *etcdWatch) run(ctx context.Context) {
	bo := backoff{min: 100 * time.Millisecond, max: 2 * time.Second}
	failing := false
	for {
		rev, err := w.resync(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !w.sent {
				w.fallback()
			}
			if !failing {
				w.log.Warn("discovery: etcd does not answer; keeping the last instance list and retrying", slog.Any("error", err))
				failing = true
			}
			if !bo.wait(ctx) {
				return
			}
			continue
		}
		if failing {
			w.log.Info("discovery: etcd answers again; instance list resynced")
			failing = false
		}
		bo.reset()
		err = w.follow(ctx, rev+1)
		if ctx.Err() != nil {
			return
		}
		w.log.Warn("discovery: the etcd watch ended; resyncing", slog.Any("error", err))
		if !bo.wait(ctx) {
			return
		}
	}
}

// resync replaces the list with a fresh Get and returns its revision.
func (w *etcdWatch) resync(ctx context.Context) (int64, error) {
	getCtx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), w.e.timeout)
	defer cancel()
	resp, err := w.e.cli.Get(getCtx, w.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("discovery: listing %s: %w", w.prefix, err)
	}
	instances := make(map[string]Instance, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if id, inst, ok := w.decode(kv.Key, kv.Value); ok {
			instances[id] = inst
		}
	}
	w.instances = instances
	w.emit()
	return resp.Header.Revision, nil
}

// follow applies the watch's events from rev on until the watch ends.
func (w *etcdWatch) follow(ctx context.Context, rev int64) error {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range w.e.cli.Watch(ctx, w.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev)) {
		if resp.CompactRevision != 0 {
			return fmt.Errorf("discovery: watching %s: revision %d was compacted", w.prefix, resp.CompactRevision)
		}
		if err := resp.Err(); err != nil {
			return fmt.Errorf("discovery: watching %s: %w", w.prefix, err)
		}
		if resp.Canceled {
			return fmt.Errorf("discovery: watching %s: the watch was canceled", w.prefix)
		}
		for _, ev := range resp.Events {
			key := string(ev.Kv.Key)
			id := strings.TrimPrefix(key, w.prefix)
			if ev.Type == clientv3.EventTypeDelete {
				delete(w.instances, id)
				continue
			}
			if _, inst, ok := w.decode(ev.Kv.Key, ev.Kv.Value); ok {
				w.instances[id] = inst
			} else {
				delete(w.instances, id) // no longer a valid instance
			}
		}
		w.emit()
	}
	return errors.New("discovery: the etcd watch channel closed")
}

// decode turns a key and its value into an instance of the service,
// logging and skipping anything else.
func (w *etcdWatch) decode(key, value []byte) (string, Instance, bool) {
	id, ok := strings.CutPrefix(string(key), w.prefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		w.log.Warn("discovery: skipping a key that is not <prefix><service>/<id>", slog.String("key", string(key)))
		return "", Instance{}, false
	}
	inst, err := Unmarshal(value)
	if err != nil {
		w.log.Warn("discovery: skipping an invalid instance", slog.String("key", string(key)), slog.Any("error", err))
		return "", Instance{}, false
	}
	if inst.Service != w.service || inst.ID != id {
		w.log.Warn("discovery: skipping an instance stored under another service's or id's key",
			slog.String("key", string(key)), slog.String("instance", inst.Service+"/"+inst.ID))
		return "", Instance{}, false
	}
	return id, inst, true
}

// emit sends the current list (if it changed) and saves it as the
// service's snapshot (if that changed).
func (w *etcdWatch) emit() {
	list := sortedList(w.instances)
	w.out.publish(list)
	w.sent = true
	if w.e.snapshotDir == "" || (w.savedOnce && equalLists(w.saved, list)) {
		return
	}
	if err := writeSnapshot(w.e.snapshotDir, w.service, list); err != nil {
		w.log.Warn("discovery: saving the instance list", slog.Any("error", err))
		return
	}
	w.saved, w.savedOnce = list, true
}

// fallback sends what is known without etcd: the snapshot, or an empty
// list so that the receiver (the resolver) stops waiting and can fall back
// to static addresses.
func (w *etcdWatch) fallback() {
	w.sent = true
	if w.e.snapshotDir != "" {
		list, skipped, ok, err := readSnapshot(w.e.snapshotDir, w.service)
		for _, s := range skipped {
			w.log.Warn("discovery: skipping an instance of the snapshot", slog.Any("error", s))
		}
		switch {
		case err != nil:
			w.log.Warn("discovery: etcd does not answer and the snapshot is unusable", slog.Any("error", err))
		case ok:
			w.log.Info("discovery: etcd does not answer; using the snapshot",
				slog.String("file", snapshotPath(w.e.snapshotDir, w.service)), slog.Int("instances", len(list)))
			w.instances = make(map[string]Instance, len(list))
			for _, inst := range list {
				w.instances[inst.ID] = inst
			}
			w.out.publish(list)
			return
		}
	}
	w.out.publish([]Instance{})
}
