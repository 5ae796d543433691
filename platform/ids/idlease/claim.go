package idlease

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNoFreeNode is wrapped by the error Acquire returns when every node id
// of the space is held by a live process.
var ErrNoFreeNode = errors.New("idlease: no free node id")

// claim is one holding of one node id under one etcd lease.
type claim struct {
	node  int64
	key   string
	lease clientv3.LeaseID
	ttl   time.Duration // the lease's TTL as the deadline counts it
	rev   int64         // revision that created the key
	// untilMs is the last millisecond (Unix) the previous holder used, as
	// it recorded when it let the id go; 0 if unknown.
	untilMs int64
	// deadline is when ids stop being issued unless a keep-alive
	// succeeds: the lease lives at least Margin longer (monotonic clock).
	deadline time.Time
}

// nodeKey is the key of node id n.
func (l *Lease) nodeKey(n int64) string { return l.opts.Prefix + strconv.FormatInt(n, 10) }

// untilKey is where the last holder of node id n left the last
// millisecond it used. It has no lease: it must outlive its writer.
func (l *Lease) untilKey(n int64) string { return l.opts.Prefix + "until/" + strconv.FormatInt(n, 10) }

// claimNode grants a lease and claims a free node id with it, prefer
// first if it is free (and in range).
func (l *Lease) claimNode(ctx context.Context, prefer int64) (*claim, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.TTL)
	defer cancel()
	sent := time.Now()
	g, err := l.cli.Grant(ctx, int64(l.opts.TTL/time.Second))
	if err != nil {
		return nil, fmt.Errorf("idlease: granting a lease: %w", err)
	}
	ttl := min(l.opts.TTL, time.Duration(g.TTL)*time.Second)
	c := &claim{lease: g.ID, ttl: ttl, deadline: sent.Add(ttl - l.opts.Margin)}
	ok := false
	defer func() {
		if !ok {
			l.revoke(g.ID)
		}
	}()

	// Which ids look free; the transaction below settles races.
	resp, err := l.cli.Get(ctx, l.opts.Prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("idlease: listing the node ids under %s: %w", l.opts.Prefix, err)
	}
	taken := map[int64]bool{}
	for _, kv := range resp.Kvs {
		if n, err := strconv.ParseInt(string(kv.Key[len(l.opts.Prefix):]), 10, 64); err == nil {
			taken[n] = true
		}
	}
	order := make([]int64, 0, l.opts.Nodes)
	if prefer >= 0 && prefer < int64(l.opts.Nodes) {
		order = append(order, prefer)
	}
	for n := int64(0); n < int64(l.opts.Nodes); n++ {
		if n != prefer {
			order = append(order, n)
		}
	}
	for _, n := range order {
		if taken[n] {
			continue
		}
		key := l.nodeKey(n)
		txn, err := l.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, l.opts.Holder, clientv3.WithLease(g.ID)), clientv3.OpGet(l.untilKey(n))).
			Commit()
		if err != nil {
			return nil, fmt.Errorf("idlease: claiming node id %d (%s): %w", n, key, err)
		}
		if !txn.Succeeded {
			continue // claimed by someone else since the listing
		}
		c.node, c.key, c.rev = n, key, txn.Header.Revision
		if kvs := txn.Responses[1].GetResponseRange().GetKvs(); len(kvs) > 0 {
			c.untilMs, _ = strconv.ParseInt(string(kvs[0].Value), 10, 64) // garbage: no floor
		}
		ok = true
		return c, nil
	}
	return nil, fmt.Errorf("%w: all %d node ids under %s are leased by live holders (etcdctl get --prefix %s lists them); at most %d generators can run at once in one id space",
		ErrNoFreeNode, l.opts.Nodes, l.opts.Prefix, l.opts.Prefix, l.opts.Nodes)
}

// release frees c's node id: in one transaction, it records the last
// millisecond used (for the next holder) and deletes the key if it is
// still c's; then it revokes the lease.
func (l *Lease) release(ctx context.Context, c *claim, lastMs int64) error {
	var errs []error
	ops := []clientv3.Op{clientv3.OpDelete(c.key)}
	if lastMs > 0 {
		ops = append(ops, clientv3.OpPut(l.untilKey(c.node), strconv.FormatInt(lastMs, 10)))
	}
	if _, err := l.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.LeaseValue(c.key), "=", c.lease)).
		Then(ops...).
		Commit(); err != nil {
		errs = append(errs, fmt.Errorf("idlease: releasing node id %d (%s): %w", c.node, c.key, err))
	}
	if _, err := l.cli.Revoke(ctx, c.lease); err != nil {
		errs = append(errs, fmt.Errorf("idlease: revoking the lease of node id %d: %w", c.node, err))
	}
	return errors.Join(errs...)
}

// revoke revokes a lease in the background, best effort: its keys would go
// when it expires anyway.
func (l *Lease) revoke(id clientv3.LeaseID) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.TTL)
		defer cancel()
		_, _ = l.cli.Revoke(ctx, id)
	}()
}
