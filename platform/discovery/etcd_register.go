package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Register publishes inst under a lease of its own and keeps the lease
// alive until the Registration is deregistered or the registry closed.
//
// It returns once the instance is in etcd. When etcd does not answer within
// EtcdOptions.Timeout, it returns anyway, without an error, and keeps trying
// in the background: a process starting during an etcd outage serves, and
// is found as soon as etcd is back. It fails for an invalid instance, an
// instance this registry already has, or when ctx ends first.
//
// Whenever the lease is lost later (etcd unreachable for longer than the
// TTL, or the lease revoked or expired), a background loop grants a new
// lease and puts the instance again, with backoff, until it succeeds.
func (e *Etcd) Register(ctx context.Context, inst Instance) (Registration, error) {
	if err := inst.Validate(); err != nil {
		return nil, err
	}
	val, err := inst.Marshal()
	if err != nil {
		return nil, fmt.Errorf("discovery: encoding instance %s/%s: %w", inst.Service, inst.ID, err)
	}
	key := e.key(inst.Service, inst.ID)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	if _, dup := e.regs[key]; dup {
		e.mu.Unlock()
		return nil, fmt.Errorf("discovery: instance %s/%s is already registered", inst.Service, inst.ID)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	r := &etcdRegistration{
		e:         e,
		service:   inst.Service,
		id:        inst.ID,
		key:       key,
		val:       string(val),
		cancel:    cancel,
		done:      make(chan struct{}),
		published: make(chan struct{}),
	}
	e.regs[key] = r
	e.mu.Unlock()
	go r.run(loopCtx)

	timer := time.NewTimer(e.timeout)
	defer timer.Stop()
	select {
	case <-r.published:
		return r, nil
	case <-timer.C:
		e.log.Warn("discovery: etcd did not answer; the instance will be published when it does",
			slog.String("service", r.service), slog.String("id", r.id), slog.Duration("waited", e.timeout))
		return r, nil
	case <-ctx.Done():
		err := fmt.Errorf("discovery: registering %s/%s: %w", r.service, r.id, context.Cause(ctx))
		return nil, errors.Join(err, r.Deregister(context.WithoutCancel(ctx)))
	}
}

// etcdRegistration is one instance in etcd and the loop keeping it there.
type etcdRegistration struct {
	e                *Etcd
	service, id, key string
	val              string

	cancel    context.CancelFunc // stops run
	done      chan struct{}      // closed when run returns
	published chan struct{}      // closed at the first successful put
	pubOnce   sync.Once

	// lease holds the key now. Only run writes it; Deregister reads it
	// after run has returned.
	lease clientv3.LeaseID

	deregOnce sync.Once
	deregErr  error
}

// run publishes the instance and re-publishes it whenever its lease is
// lost, until ctx ends.
func (r *etcdRegistration) run(ctx context.Context) {
	defer close(r.done)
	log := r.e.log.With(slog.String("service", r.service), slog.String("id", r.id))
	bo := backoff{min: 100 * time.Millisecond, max: min(2*time.Second, r.e.ttl/2)}
	failing := false
	for {
		keepAlive, err := r.publish(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				log.Warn("discovery: publishing the instance failed; retrying until etcd answers", slog.Any("error", err))
				failing = true
			}
			if !bo.wait(ctx) {
				return
			}
			continue
		}
		if failing {
			log.Info("discovery: the instance is published again")
			failing = false
		}
		r.pubOnce.Do(func() { close(r.published) })
		since := time.Now()
		for range keepAlive { // closes when the lease is lost or ctx ends
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("discovery: the instance's lease was lost (etcd unreachable for its TTL, or the lease expired); publishing it again",
			slog.Int64("lease", int64(r.lease)))
		if time.Since(since) < r.e.ttl {
			// A lease lost right after it was granted: do not spin.
			if !bo.wait(ctx) {
				return
			}
		} else {
			bo.reset()
		}
	}
}

// publish grants a lease, puts the instance under it and starts keeping it
// alive; the lease the key held before is revoked.
func (r *etcdRegistration) publish(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	cli := r.e.cli
	opCtx, cancel := context.WithTimeout(ctx, r.e.timeout)
	defer cancel()
	grant, err := cli.Grant(opCtx, r.e.leaseTTL)
	if err != nil {
		return nil, fmt.Errorf("discovery: granting a %ds lease: %w", r.e.leaseTTL, err)
	}
	// An unused lease is not revoked when the put fails: nothing keeps it
	// alive, so it runs out by itself, and etcd is likely unreachable now.
	if _, err := cli.Put(opCtx, r.key, r.val, clientv3.WithLease(grant.ID)); err != nil {
		return nil, fmt.Errorf("discovery: putting %s: %w", r.key, err)
	}
	old := r.lease
	r.lease = grant.ID
	if old != 0 {
		// The key has left the old lease, which an etcd restart may have
		// extended; revoking it deletes nothing and frees it now.
		if _, err := cli.Revoke(opCtx, old); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			r.e.log.Debug("discovery: revoking a replaced lease", slog.String("key", r.key), slog.Any("error", err))
		}
	}
	keepAlive, err := cli.KeepAlive(clientv3.WithRequireLeader(ctx), grant.ID)
	if err != nil {
		return nil, fmt.Errorf("discovery: keeping lease %x alive: %w", int64(grant.ID), err)
	}
	return keepAlive, nil
}

// Deregister stops keeping the instance alive and revokes its lease, which
// deletes its key at once. When etcd is unreachable it returns an error; the
// key then disappears when the lease's TTL runs out, since nothing keeps it
// alive any more.
func (r *etcdRegistration) Deregister(ctx context.Context) error {
	r.deregOnce.Do(func() {
		r.cancel()
		<-r.done
		r.e.mu.Lock()
		if r.e.regs[r.key] == r {
			delete(r.e.regs, r.key)
		}
		r.e.mu.Unlock()
		if r.lease == 0 {
			return // never published
		}
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, r.e.timeout)
			defer cancel()
		}
		if _, err := r.e.cli.Revoke(ctx, r.lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			r.deregErr = fmt.Errorf("discovery: deregistering %s/%s: revoking its lease: %w (the key expires within %s)",
				r.service, r.id, err, r.e.ttl)
		}
	})
	return r.deregErr
}
