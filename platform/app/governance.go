package app

import (
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/balancer"
	"github.com/tremolo-dev/tremolo/platform/client"
	"github.com/tremolo-dev/tremolo/platform/discovery"
	"github.com/tremolo-dev/tremolo/platform/dynconfig"
)

// ClientParams are the inputs of the clients' governance options.
type ClientParams struct {
	fx.In

	Discovery discovery.Config
	Registry  discovery.Registry
	Callees   *Callees
}

// clientOptions points the clients at discovery: services this process
// does not serve are resolved through the registry (with the static
// fallback) and balanced by platform/balancer, hashing on the caller's user
// id so that one user's calls meet the same instance's caches.
func clientOptions(p ClientParams) client.Options {
	return client.Options{
		Discovery:     discovery.NewResolverBuilder(p.Registry, p.Discovery.Static),
		ServiceConfig: balancer.ServiceConfig(auth.MetadataKey),
		Middleware:    p.Callees.Interceptors,
	}
}

// governance is how every process is governed: the registry, the clients'
// use of it (balancing, breakers, retries), the announcement of this
// process's services, the server's guards (shedding, faults), and the
// dynamic configuration that tunes them while the process runs.
var governance = fx.Options(
	discovery.Module,
	dynconfig.Module,
	fx.Invoke(followDynamic),
	fx.Provide(clientOptions, NewCallees, NewShedder, NewFaults, serverInterceptors),
	fx.Invoke(announce, balancer.Metrics),
)
