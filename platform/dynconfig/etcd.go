package dynconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultPrefix is where EtcdSource looks for documents when given no
// prefix: the document "ratelimit" is the key /tremolo/config/ratelimit.
const DefaultPrefix = "/tremolo/config/"

// Timing of EtcdSource's reads. A read that takes longer than etcdTimeout
// is abandoned and retried; retries after failures wait from
// etcdRetryMin, doubling, up to etcdRetryMax, so a long outage costs a
// request every few seconds and a short one is over quickly.
const (
	etcdTimeout  = 5 * time.Second
	etcdRetryMin = 100 * time.Millisecond
	etcdRetryMax = 5 * time.Second
)

// EtcdSource reads documents from the keys under a prefix: the key
// <Prefix><name> holds the document <name>, which must be a valid name
// (ValidName; a key below a deeper path, such as <Prefix>a/b, is ignored
// and logged). Values are the documents' bytes, as written by
//
//	etcdctl put /tremolo/config/ratelimit "$(cat ratelimit.yaml)"
//
// It reads every key, then watches the prefix from the revision after that
// read, so no change between the two is missed; each batch of changes that
// alters a document produces a Snapshot. Deleting a key removes its
// document.
//
// etcd being unreachable is not a change: the documents stay as last read.
// The client reconnects by itself and resumes the watch where it stopped;
// when that is impossible (the revisions missed were compacted, the member
// lost its leader) the source reads every key again, retrying until etcd
// answers, and the fresh read replaces the documents — removing only those
// whose keys are really gone.
type EtcdSource struct {
	// Client is the etcd client, typically the one discovery uses
	// (-etcd-endpoints). Required; the source does not close it.
	Client *clientv3.Client
	// Prefix is the keys' prefix; it must end with '/'. Default:
	// DefaultPrefix.
	Prefix string
	// Logger receives outages, resyncs and refused keys. Default: discard.
	Logger *slog.Logger
}

// Watch implements Source. The first Snapshot arrives once etcd has
// answered the first read.
func (s *EtcdSource) Watch(ctx context.Context) (<-chan Snapshot, error) {
	if s.Client == nil {
		return nil, errors.New("dynconfig: EtcdSource.Client is nil: the etcd source needs an etcd client (set -etcd-endpoints)")
	}
	prefix := s.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("dynconfig: etcd prefix %q must end with '/' (documents are the keys below it)", prefix)
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &etcdFollower{cli: s.Client, prefix: prefix, logger: logger, ch: make(chan Snapshot, 1), refused: map[string]string{}}
	go f.run(ctx)
	return f.ch, nil
}

// etcdFollower is the state of one EtcdSource.Watch.
type etcdFollower struct {
	cli    *clientv3.Client
	prefix string
	logger *slog.Logger
	ch     chan Snapshot
	docs   map[string][]byte // last offered; nil before the first read
	// refused maps a key to the reason it was refused, so that a lasting
	// problem is logged once.
	refused map[string]string
	failing bool // the last read failed (logged once per outage)
}

// run alternates full reads and watches until ctx ends.
func (f *etcdFollower) run(ctx context.Context) {
	defer close(f.ch)
	wait := etcdRetryMin
	for ctx.Err() == nil {
		rev, err := f.read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !f.failing {
				f.failing = true
				f.logger.Warn("dynconfig: cannot read the documents from etcd; keeping the last ones and retrying", slog.String("prefix", f.prefix), slog.Any("error", err))
			} else {
				f.logger.Debug("dynconfig: etcd still unreachable", slog.Any("error", err))
			}
			if !sleep(ctx, wait) {
				return
			}
			wait = min(2*wait, etcdRetryMax)
			continue
		}
		if f.failing {
			f.failing = false
			f.logger.Info("dynconfig: documents read from etcd again", slog.String("prefix", f.prefix), slog.Int64("revision", rev))
		}
		wait = etcdRetryMin
		err = f.follow(ctx, rev)
		if ctx.Err() != nil {
			return
		}
		f.logger.Warn("dynconfig: the etcd watch ended; reading every document again", slog.String("prefix", f.prefix), slog.Any("error", err))
		if !sleep(ctx, etcdRetryMin) {
			return
		}
	}
}

// read gets every key under the prefix, offers the documents if they
// changed, and returns the revision of the read.
func (f *etcdFollower) read(ctx context.Context) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, etcdTimeout)
	defer cancel()
	resp, err := f.cli.Get(rctx, f.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	docs := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		f.put(docs, string(kv.Key), kv.Value)
	}
	f.publish(docs, resp.Header.Revision, f.docs == nil)
	return resp.Header.Revision, nil
}

// follow watches the prefix from the revision after rev, applying each
// batch of events, until the watch fails (the error says why) or ctx ends.
func (f *etcdFollower) follow(ctx context.Context, rev int64) error {
	// WithRequireLeader: a member cut off from its cluster's leader ends
	// the watch instead of going silent, so the documents are read again
	// (from a member that has a leader) rather than silently frozen.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range f.cli.Watch(wctx, f.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := wr.Err(); err != nil {
			return err // compacted, no leader, cancelled by the server
		}
		if len(wr.Events) == 0 {
			continue
		}
		docs := maps.Clone(f.docs)
		for _, ev := range wr.Events {
			key := string(ev.Kv.Key)
			if ev.Type == clientv3.EventTypeDelete {
				if name, ok := f.name(key); ok {
					delete(docs, name)
				}
				delete(f.refused, key)
				continue
			}
			f.put(docs, key, ev.Kv.Value)
		}
		f.publish(docs, wr.Header.Revision, false)
	}
	return errors.New("the watch channel closed")
}

// put sets the document of key in docs, unless the key or value is
// refused: then the document keeps the bytes it had in f.docs.
func (f *etcdFollower) put(docs map[string][]byte, key string, value []byte) {
	name, ok := f.name(key)
	if !ok {
		return
	}
	if len(value) > MaxDocumentBytes {
		f.refuse(key, fmt.Sprintf("value of %d bytes, more than the %d a document may have; keeping its last good bytes", len(value), MaxDocumentBytes))
		if old, ok := f.docs[name]; ok {
			docs[name] = old
		}
		return
	}
	delete(f.refused, key)
	docs[name] = value
}

// name returns the document a key holds, refusing keys whose remainder is
// not a valid name.
func (f *etcdFollower) name(key string) (string, bool) {
	name := strings.TrimPrefix(key, f.prefix)
	if err := ValidName(name); err != nil {
		f.refuse(key, "not a document: "+err.Error())
		return "", false
	}
	return name, true
}

// refuse logs a refused key once per reason.
func (f *etcdFollower) refuse(key, why string) {
	if f.refused[key] == why {
		return
	}
	f.refused[key] = why
	f.logger.Warn("dynconfig: etcd key refused", slog.String("key", key), slog.String("reason", why))
}

// publish offers docs unless they equal the last offered (always when
// first).
func (f *etcdFollower) publish(docs map[string][]byte, rev int64, first bool) {
	if !first && equalDocs(docs, f.docs) {
		return
	}
	f.docs = docs
	offer(f.ch, Snapshot{Documents: docs, Revision: "etcd:" + strconv.FormatInt(rev, 10)})
}

// sleep waits d or until ctx ends, reporting whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
