package discovery

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/fx"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
)

// Params are the fx inputs of the registry.
type Params struct {
	fx.In

	Config    Config
	Logger    *slog.Logger `optional:"true"`
	Lifecycle fx.Lifecycle
}

// Result is what Module provides.
type Result struct {
	fx.Out

	// Registry is the configured registry, closed when the app stops.
	Registry Registry
	// Instance is this process's instance template (Config.Template):
	// version, labels, zone and cell, without a service, id or address.
	Instance Instance
	// Etcd is the registry's etcd client, shared with the other modules
	// that keep state in etcd (dynamic configuration, id leases); nil with
	// the in-process registry.
	Etcd *clientv3.Client
}

// NewFx opens the configured registry for fx and closes it when the app
// stops (after the hooks of everything started later, such as the server
// deregistering its services).
func NewFx(p Params) (Result, error) {
	reg, err := Open(p.Config, p.Logger)
	if err != nil {
		return Result{}, err
	}
	p.Lifecycle.Append(fx.StopHook(reg.Close))
	res := Result{Registry: reg, Instance: p.Config.Template()}
	if o, ok := reg.(*ownedEtcd); ok {
		res.Etcd = o.cli
	}
	return res, nil
}

// Module provides the Registry chosen by Config (a Memory, or an Etcd with
// its own etcd client) and the local Instance template. It needs a Config;
// a *slog.Logger is used when there is one.
var Module = fx.Module("tremolo.discovery", fx.Provide(NewFx))

// Open returns the registry cfg describes. For RegistryEtcd it creates the
// etcd client, which the registry's Close closes; connecting to etcd
// happens in the background, so Open succeeds while etcd is down.
func Open(cfg Config, log *slog.Logger) (Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Registry != RegistryEtcd {
		return NewMemory(), nil
	}
	opts := cfg.EtcdOptions()
	opts.Logger = log
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	cli, err := dialEtcd(cfg.EtcdEndpoints, opts.Timeout)
	if err != nil {
		return nil, err
	}
	e, err := NewEtcd(cli, opts)
	if err != nil {
		return nil, errors.Join(err, cli.Close())
	}
	return &ownedEtcd{Etcd: e, cli: cli}, nil
}

// dialEtcd creates a client of endpoints that reconnects within seconds of
// etcd's return (gRPC's default backoff grows to two minutes) and notices a
// dead connection within seconds.
func dialEtcd(endpoints []string, timeout time.Duration) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          timeout,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           grpcbackoff.Config{BaseDelay: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 3 * time.Second},
			MinConnectTimeout: timeout,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("discovery: etcd endpoints %v: %w", endpoints, err)
	}
	return cli, nil
}

// ownedEtcd is an Etcd whose client it created and closes.
type ownedEtcd struct {
	*Etcd
	cli *clientv3.Client

	once sync.Once
	err  error
}

func (o *ownedEtcd) Close() error {
	o.once.Do(func() { o.err = errors.Join(o.Etcd.Close(), o.cli.Close()) })
	return o.err
}
