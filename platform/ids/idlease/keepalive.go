package idlease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// run keeps the current claim alive and regains one when it is lost,
// until ctx ends.
//
// It renews the lease itself, once per third of the TTL, with
// KeepAliveOnce rather than the client's KeepAlive stream, because the
// deadline must be counted from a moment known to precede the renewal on
// the server: the moment the request was sent, which only the sender
// knows.
func (l *Lease) run(ctx context.Context, c *claim) {
	defer close(l.done)
	every := l.opts.TTL / 3
	retryMin := max(l.opts.TTL/20, 50*time.Millisecond)
	retry := retryMin

	var watch clientv3.WatchChan
	stopWatch := func() {}
	follow := func(c *claim, rev int64) {
		stopWatch()
		wctx, cancel := context.WithCancel(ctx)
		stopWatch = cancel
		watch = l.cli.Watch(wctx, c.key, clientv3.WithRev(rev+1))
	}
	defer func() { stopWatch() }()
	follow(c, c.rev)

	verify := false    // the key must be checked before the claim is trusted again
	expired := false   // the deadline passed (logged once)
	prefer := c.node   // the node id to claim first after a loss
	lastClaimErr := "" // the last reason a claim failed, logged once
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case wr, ok := <-watch:
			if !ok || wr.Err() != nil {
				// Compacted past, or cancelled: check the key at the next
				// renewal, and watch again from the revision of that check.
				stopWatch()
				watch, verify = nil, true
				continue
			}
			for _, ev := range wr.Events {
				if c != nil && (ev.Type == clientv3.EventTypeDelete || clientv3.LeaseID(ev.Kv.Lease) != c.lease) {
					l.lose(c, "its key was deleted or overwritten by someone else (revoke leases, never delete node keys by hand)", !expired)
					l.revoke(c.lease)
					c, watch = nil, nil
					stopWatch()
					timer.Reset(0)
					break
				}
			}
			continue
		case <-timer.C:
		}

		if c == nil {
			nc, err := l.claimNode(ctx, prefer)
			if err == nil {
				err = l.install(nc)
				if err != nil {
					l.revoke(nc.lease)
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if msg := err.Error(); msg != lastClaimErr { // a lasting problem is said once
					lastClaimErr = msg
					l.opts.Logger.Warn("idlease: cannot lease a node id yet; retrying", slog.Any("error", err))
				} else {
					l.opts.Logger.Debug("idlease: still no node id", slog.Any("error", err))
				}
				timer.Reset(retry)
				retry = min(2*retry, every)
				continue
			}
			c, prefer, retry, verify, expired, lastClaimErr = nc, nc.node, retryMin, false, false, ""
			follow(c, c.rev)
			timer.Reset(every)
			continue
		}

		sent := time.Now()
		rev, err := l.renew(ctx, c, sent, verify || expired)
		switch {
		case err == nil:
			if expired {
				l.opts.Logger.Info("idlease: etcd answers again; the node id is still ours", slog.Int64("node", c.node))
			}
			if rev > 0 {
				follow(c, rev)
			}
			verify, expired, retry = false, false, retryMin
			timer.Reset(max(every-time.Since(sent), 0))
		case errors.Is(err, errGone):
			l.lose(c, err.Error(), !expired)
			l.revoke(c.lease)
			c, watch = nil, nil
			stopWatch()
			timer.Reset(0)
		default:
			if ctx.Err() != nil {
				return
			}
			if !expired && l.Err() != nil {
				expired = true
				l.metrics.lost.Inc()
				l.opts.Logger.Error("idlease: keep-alives failing past the deadline; no ids until etcd answers", slog.Int64("node", c.node), slog.Any("error", err))
			} else {
				l.opts.Logger.Debug("idlease: keep-alive failed; retrying", slog.Int64("node", c.node), slog.Any("error", err))
			}
			timer.Reset(retry)
			retry = min(2*retry, every)
		}
	}
}

// errGone is wrapped by renew's error when the claim cannot be kept: the
// lease expired on etcd, or the key is no longer the claim's.
var errGone = errors.New("the claim is gone")

// renew sends a keep-alive for c's lease (sent is the moment before) and
// extends the deadline if it succeeds. With check, it also reads the key
// to make sure it still belongs to the lease — after an outage or a broken
// watch, when a deletion may have gone unseen — and returns the revision
// of that read, for the watch to resume after (0 without check).
func (l *Lease) renew(ctx context.Context, c *claim, sent time.Time, check bool) (rev int64, err error) {
	rctx, cancel := context.WithTimeout(ctx, l.opts.TTL/3)
	defer cancel()
	resp, err := l.cli.KeepAliveOnce(rctx, c.lease)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return 0, fmt.Errorf("%w: etcd no longer has its lease (it expired)", errGone)
	}
	if err != nil {
		return 0, err
	}
	if check {
		g, err := l.cli.Get(rctx, c.key)
		if err != nil {
			return 0, err
		}
		if len(g.Kvs) == 0 || clientv3.LeaseID(g.Kvs[0].Lease) != c.lease {
			return 0, fmt.Errorf("%w: its key was deleted or taken by another lease", errGone)
		}
		rev = g.Header.Revision
	}
	ttl := min(c.ttl, time.Duration(resp.TTL)*time.Second)
	l.mu.Lock()
	if l.cur == c {
		c.deadline = sent.Add(ttl - l.opts.Margin)
	}
	l.mu.Unlock()
	return rev, nil
}
