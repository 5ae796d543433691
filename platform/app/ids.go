package app

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/ids"
	"github.com/tremolo-dev/tremolo/platform/ids/idlease"
)

// IDsParams are the inputs of the constructor IDs returns.
type IDsParams struct {
	fx.In

	Config     Config
	Etcd       *clientv3.Client `optional:"true"`
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Lifecycle  fx.Lifecycle
}

// IDs returns the fx constructor of service's id issuer, for the service's
// module to provide privately: with etcd (-registry etcd) a node id leased
// from it, claimed at start and freed at stop, so replicas never share one;
// otherwise a Generator with -node-id. service labels the lease's metrics.
func IDs(service string) func(IDsParams) (ids.Issuer, error) {
	return func(p IDsParams) (ids.Issuer, error) {
		if p.Etcd == nil {
			return ids.New(p.Config.NodeID)
		}
		return idlease.NewFx(idlease.Params{
			Config:     p.Config.IDLease,
			Logger:     p.Logger.With(slog.String("service", service)),
			Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"service": service}, p.Registerer),
			Etcd:       p.Etcd,
			Lifecycle:  p.Lifecycle,
		})
	}
}
