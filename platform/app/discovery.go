package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/discovery"
	"github.com/tremolo-dev/tremolo/platform/server"
)

// AnnounceParams are the inputs of announce.
type AnnounceParams struct {
	fx.In

	Config    discovery.Config
	Server    *server.Server
	Registry  discovery.Registry
	Template  discovery.Instance
	Logger    *slog.Logger
	Lifecycle fx.Lifecycle
}

// announce registers every service of this process with the registry once
// the server listens, and deregisters them first thing at stop, before the
// server drains, so that callers stop choosing this process while it still
// answers the calls already on their way.
func announce(p AnnounceParams) {
	var withdraw func(context.Context) error
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			addr, err := advertised(p.Config.AdvertiseHost, p.Server.GRPCAddr())
			if err != nil {
				return err
			}
			var insts []discovery.Instance
			for _, svc := range p.Server.Services() {
				if svc.Name == "" {
					continue // a hand-registered service without a short name
				}
				inst := p.Template.Clone()
				inst.Service, inst.Addr, inst.ID = svc.Name, addr, discovery.DefaultID(addr)
				insts = append(insts, inst)
			}
			withdraw, err = discovery.Announce(ctx, p.Registry, insts...)
			return err
		},
		OnStop: func(ctx context.Context) error {
			if withdraw == nil {
				return nil
			}
			// Bounded: with the registry unreachable, waiting would only
			// delay the drain; the instances' leases expire on their own.
			limit := p.Config.Timeout
			if limit <= 0 {
				limit = discovery.DefaultTimeout
			}
			ctx, cancel := context.WithTimeout(ctx, limit)
			defer cancel()
			if err := withdraw(ctx); err != nil {
				// Not a failed stop: callers learn when the leases expire.
				p.Logger.WarnContext(ctx, "deregistering from the registry failed; the instances stay listed until their leases expire", slog.Any("error", err))
			}
			return nil
		},
	})
}

// advertised is the address other processes dial: host (or the listener's
// host, loopback for a wildcard) with the listener's port.
func advertised(host string, listener net.Addr) (string, error) {
	tcp, ok := listener.(*net.TCPAddr)
	if !ok {
		return "", fmt.Errorf("app: the gRPC listener %v is not TCP; cannot announce it", listener)
	}
	switch {
	case host != "":
	case tcp.IP.IsUnspecified() && tcp.IP.To4() != nil:
		host = "127.0.0.1"
	case tcp.IP.IsUnspecified():
		host = "::1"
	default:
		host = tcp.IP.String()
	}
	return net.JoinHostPort(host, fmt.Sprint(tcp.Port)), nil
}
