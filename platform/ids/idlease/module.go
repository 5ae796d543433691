package idlease

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/fx"
)

// Params are the fx inputs of the Lease.
type Params struct {
	fx.In

	Config Config
	Logger *slog.Logger
	// Registerer receives the metrics; without one they are not exported.
	Registerer prometheus.Registerer `optional:"true"`
	// Etcd is the process's etcd client (discovery's, from
	// -etcd-endpoints). Required: a leased node id needs etcd.
	Etcd      *clientv3.Client
	Lifecycle fx.Lifecycle
}

// NewFx builds the Lease for fx. It claims its node id when the app
// starts, and frees it when the app stops. If etcd does not answer within
// a moment, or no id is free, the app starts anyway and the Lease keeps
// trying in the background: until it holds a node id, Next fails with
// ErrLost, so a service can come up (and serve its reads) while etcd is
// away. Before the start, Next fails with ErrLost too.
func NewFx(p Params) (*Lease, error) {
	l, err := newLease(p.Etcd, Options{Prefix: p.Config.Prefix, TTL: p.Config.TTL, Logger: p.Logger, Registerer: p.Registerer})
	if err != nil {
		return nil, err
	}
	start := func(ctx context.Context) error { return l.startOrKeepTrying(ctx, startWait) }
	p.Lifecycle.Append(fx.StartStopHook(start, func(ctx context.Context) error {
		// Bounded: with etcd away, releasing would wait out the stop
		// budget and starve the hooks after this one (closing databases);
		// the lease expires on its own.
		ctx, cancel := context.WithTimeout(ctx, closeWait)
		defer cancel()
		return l.Close(ctx)
	}))
	return l, nil
}

// closeWait bounds how long stopping the app waits to release the node id,
// and startWait how long starting it waits to claim one before going on
// without (Lease.Next fails until one is held).
const (
	closeWait = 2 * time.Second
	startWait = 2 * time.Second
)

// Module provides a *Lease: this process's snowflake node id, leased from
// etcd, and the ids made with it (Lease.Next). It needs a Config, a
// *slog.Logger and a *clientv3.Client, and takes a prometheus.Registerer
// when there is one. It replaces a fixed -node-id in fleets, where
// replicas come and go and nobody should have to hand out node ids.
var Module = fx.Module("tremolo.idlease", fx.Provide(NewFx))
