package server

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/client"
)

// HandlersGroup is the fx value group of extra HTTP handlers (Handler).
const HandlersGroup = "tremolo.http.handlers"

// Handler is an extra HTTP handler for the server's mux.
type Handler struct {
	// Pattern is an http.ServeMux pattern, e.g. "/douyin/".
	Pattern string
	Handler http.Handler
}

// Params are the fx inputs of the Server.
type Params struct {
	fx.In

	Config       Config
	Logger       *slog.Logger
	Gatherer     prometheus.Gatherer
	Services     []Service `group:"tremolo.services"`
	Handlers     []Handler `group:"tremolo.http.handlers"`
	Local        *LocalAddress
	Channel      *LocalChannel
	Interceptors Interceptors `optional:"true"`
	Lifecycle    fx.Lifecycle
	Shutdowner   fx.Shutdowner
}

// NewFx builds the Server for fx, starting and stopping it with the app; a
// failing listener shuts the app down with exit code 1.
func NewFx(p Params) (*Server, error) {
	s, err := New(p.Config, p.Logger, p.Services, Options{
		Gatherer:     p.Gatherer,
		Handlers:     p.Handlers,
		Local:        p.Local,
		Channel:      p.Channel,
		Interceptors: p.Interceptors,
		OnServeError: func(err error) {
			if serr := p.Shutdowner.Shutdown(fx.ExitCode(1)); serr != nil {
				p.Logger.Error("server: shutting down after a serve error", slog.Any("error", serr))
			}
		},
	})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StartStopHook(s.Start, s.Stop))
	return s, nil
}

// Module runs the Server. It needs a Config, a *slog.Logger and a
// prometheus.Gatherer (see platform/app, which supplies all three). It also
// provides the client.Local through which services of this process call each
// other: in-process, or over the gRPC port with -local-loopback.
var Module = fx.Module("tremolo.server",
	fx.Provide(
		NewFx,
		NewLocalAddress,
		NewLocalChannel,
		func(a *LocalAddress, ch *LocalChannel) client.Local {
			return client.Local{Channel: ch, Entry: ch.Entry(), Addr: a.Wait, Serves: ch.Serves}
		},
	),
	fx.Invoke(func(*Server) {}),
)
