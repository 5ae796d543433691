package idlease

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tremolo-dev/tremolo/platform/ids"
)

// DefaultPrefix is the id space of the whole cluster: node id n is the key
// /tremolo/ids/nodes/<n>.
const DefaultPrefix = "/tremolo/ids/nodes/"

// DefaultTTL is the lease's time to live: how long after a process dies
// its node id stays taken, and how long etcd may be unreachable before
// the process stops issuing ids (less Margin).
const DefaultTTL = 10 * time.Second

// Options configure Acquire. Zero values take the defaults.
type Options struct {
	// Prefix is the id space (see the package documentation); it ends with
	// '/'. Default: DefaultPrefix.
	Prefix string
	// TTL is the etcd lease's time to live, rounded up to whole seconds
	// (etcd's unit). Default: DefaultTTL.
	TTL time.Duration
	// Margin is how long before its lease could expire a holder stops
	// issuing ids, and how far apart the clocks of two successive holders
	// of one node id may be (package documentation). At most TTL/2.
	// Default: TTL/5.
	Margin time.Duration
	// Nodes is how many node ids the space has, 1 to ids.MaxNode+1; the
	// ids used are 0..Nodes-1. Default: ids.MaxNode+1 (32). A smaller
	// space leaves the upper ids to generators configured by hand.
	Nodes int
	// Holder describes this process in the node's key, for operators
	// (etcdctl get --prefix /tremolo/ids/nodes/). Default:
	// "host/pid/program".
	Holder string
	// Logger receives claims, losses and recoveries. Default: discard.
	Logger *slog.Logger
	// Registerer receives the metrics (tremolo_idlease_*); nil: not
	// exported.
	Registerer prometheus.Registerer
}

// withDefaults fills in the defaults and checks the options.
func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		return o, fmt.Errorf("idlease: prefix %q must end with '/' (node ids are the keys below it)", o.Prefix)
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < 0 {
		return o, fmt.Errorf("idlease: TTL %v is negative", o.TTL)
	}
	o.TTL = (o.TTL + time.Second - 1).Truncate(time.Second)
	if o.Margin == 0 {
		o.Margin = o.TTL / 5
	}
	if o.Margin < 0 || o.Margin > o.TTL/2 {
		return o, fmt.Errorf("idlease: margin %v must be between 0 and half the TTL (%v): the lease is renewed every third of the TTL", o.Margin, o.TTL/2)
	}
	if o.Nodes == 0 {
		o.Nodes = ids.MaxNode + 1
	}
	if o.Nodes < 1 || o.Nodes > ids.MaxNode+1 {
		return o, fmt.Errorf("idlease: %d nodes: want 1 to %d (ids have %d node bits)", o.Nodes, ids.MaxNode+1, ids.NodeBits)
	}
	if o.Holder == "" {
		o.Holder = defaultHolder()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func defaultHolder() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	prog := "unknown"
	if len(os.Args) > 0 {
		prog = filepath.Base(os.Args[0])
	}
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + prog
}

// errNoClient is returned for a nil client.
var errNoClient = errors.New("idlease: no etcd client (set -etcd-endpoints)")
