package dynconfig

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/fx"
)

// Params are the fx inputs of the Watcher.
type Params struct {
	fx.In

	Config Config
	Logger *slog.Logger
	// Registerer receives the metrics; without one they are not exported.
	Registerer prometheus.Registerer `optional:"true"`
	// Etcd is the process's etcd client, provided by the discovery module
	// when -etcd-endpoints is set; only -config-source=etcd needs it.
	Etcd      *clientv3.Client `optional:"true"`
	Lifecycle fx.Lifecycle
}

// NewFx builds the Watcher for fx, starting it with the app (Start waits
// up to -config-start-wait for the documents) and stopping it with the
// app.
func NewFx(p Params) (*Watcher, error) {
	src, err := NewSource(p.Config, p.Etcd, p.Logger)
	if err != nil {
		return nil, err
	}
	w, err := NewWatcher(src, Options{Logger: p.Logger, Registerer: p.Registerer, StartWait: p.Config.StartWait})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StartStopHook(w.Start, w.Stop))
	return w, nil
}

// Module provides the *Watcher of the process's dynamic configuration. It
// needs a Config and a *slog.Logger (platform/app supplies the logger; the
// binary supplies the Config it parsed), and takes a
// prometheus.Registerer and a *clientv3.Client when they exist. The
// Watcher is built, and runs, only if something asks for it: consumers
// take a *Watcher and Subscribe in their constructors, and receive the
// first documents when the app starts.
var Module = fx.Module("tremolo.dynconfig", fx.Provide(NewFx))
