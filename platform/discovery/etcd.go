package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults of EtcdOptions.
const (
	// DefaultPrefix is where instances live in etcd: the key of an
	// instance is <prefix><service>/<id>.
	DefaultPrefix = "/tremolo/services/"
	// DefaultTTL is how long an instance outlives its process when the
	// process dies without deregistering: long enough to ride out a short
	// etcd hiccup, short enough that clients stop calling a dead instance
	// quickly (they also stop on their own when its connection fails).
	DefaultTTL = 10 * time.Second
	// DefaultTimeout is how long the registry waits for etcd before it
	// treats etcd as unreachable and falls back: a Watch to the snapshot, a
	// Register to publishing in the background.
	DefaultTimeout = 2 * time.Second
)

// EtcdOptions configure an Etcd registry. The zero value is usable.
type EtcdOptions struct {
	// Prefix is the key prefix of all instances; DefaultPrefix when empty.
	// A missing trailing '/' is added, so that "/a" never matches "/ab".
	Prefix string
	// TTL is the lease of each registration: a process that dies without
	// deregistering disappears after it. DefaultTTL when zero; at least one
	// second, and rounded up to whole seconds, the unit of etcd leases.
	TTL time.Duration
	// SnapshotDir, when set, is where each watched service's last instance
	// list is kept (<dir>/<service>.json), so that a process that cannot
	// reach etcd when it starts still finds the instances alive before.
	// It is created if missing.
	SnapshotDir string
	// Timeout bounds each request to etcd; DefaultTimeout when zero. It is
	// how long a Watch waits for its first answer before sending the
	// snapshot, and how long a Register waits for etcd before returning
	// and publishing in the background.
	Timeout time.Duration
	// Logger receives what the registry does about etcd's failures
	// (retries, fallbacks, skipped values); slog.Default() when nil.
	Logger *slog.Logger
}

// Etcd is the registry of a fleet: each instance is a key
// <prefix><service>/<id> holding its JSON, bound to a lease the process
// keeps alive. A process that dies without deregistering disappears when
// its lease's TTL runs out; one that loses etcd re-publishes its instances
// as soon as etcd answers again; watchers keep the instances they last saw
// while etcd is away.
//
// Etcd does not own the client: close the client after Close.
type Etcd struct {
	cli         *clientv3.Client
	prefix      string
	ttl         time.Duration
	leaseTTL    int64 // ttl in seconds
	timeout     time.Duration
	snapshotDir string
	log         *slog.Logger

	ctx    context.Context // ends at Close, ending every loop
	cancel context.CancelFunc
	loops  sync.WaitGroup // watch loops

	mu     sync.Mutex
	closed bool
	regs   map[string]*etcdRegistration // by key
}

var _ Registry = (*Etcd)(nil)

// NewEtcd returns a registry keeping its instances in etcd through cli.
func NewEtcd(cli *clientv3.Client, opts EtcdOptions) (*Etcd, error) {
	if cli == nil {
		return nil, errors.New("discovery: NewEtcd needs an etcd client, got nil")
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	ttl := opts.TTL
	switch {
	case ttl == 0:
		ttl = DefaultTTL
	case ttl < time.Second:
		return nil, fmt.Errorf("discovery: registry TTL %s: want at least 1s (etcd leases count whole seconds)", opts.TTL)
	case ttl > 24*time.Hour:
		return nil, fmt.Errorf("discovery: registry TTL %s: want at most 24h, or a dead instance stays listed that long", opts.TTL)
	}
	leaseTTL := int64(math.Ceil(ttl.Seconds()))
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		return nil, fmt.Errorf("discovery: etcd timeout %s: want a positive duration", opts.Timeout)
	}
	if opts.SnapshotDir != "" {
		if err := os.MkdirAll(opts.SnapshotDir, 0o755); err != nil {
			return nil, fmt.Errorf("discovery: snapshot directory %q: %w", opts.SnapshotDir, err)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Etcd{
		cli:         cli,
		prefix:      prefix,
		ttl:         time.Duration(leaseTTL) * time.Second,
		leaseTTL:    leaseTTL,
		timeout:     timeout,
		snapshotDir: opts.SnapshotDir,
		log:         log,
		ctx:         ctx,
		cancel:      cancel,
		regs:        map[string]*etcdRegistration{},
	}, nil
}

// Prefix is the key prefix the registry uses, with its trailing '/'.
func (e *Etcd) Prefix() string { return e.prefix }

// Close deregisters every live registration (revoking its lease, so its
// instance disappears now rather than after its TTL), ends every watch and
// waits for the registry's goroutines. The client stays open.
func (e *Etcd) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	regs := make([]*etcdRegistration, 0, len(e.regs))
	for _, r := range e.regs {
		regs = append(regs, r)
	}
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	var errs []error
	for _, r := range regs {
		if err := r.Deregister(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	e.cancel()
	e.loops.Wait()
	return errors.Join(errs...)
}

// key is the etcd key of an instance.
func (e *Etcd) key(service, id string) string { return e.prefix + service + "/" + id }
