package tracing

import (
	"os"
	"path/filepath"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
)

// ServiceName is the name a process's spans carry (service.name), by which
// a tracing backend groups them. The app supplies it (the program name it
// is given); without it the module uses the executable's base name, which
// is the same for the platform's binaries but not under `go test` or a
// renamed binary.
type ServiceName string

// Params are the fx inputs of the module's constructor.
type Params struct {
	fx.In

	Config    Config
	Service   ServiceName `optional:"true"`
	Lifecycle fx.Lifecycle
}

// Module provides trace.TracerProvider as the supplied Config says, and
// flushes and stops it when the app stops, within the stop context: spans
// still buffered for the collector are sent before the process exits.
//
// It sets no OpenTelemetry globals (provider, propagator, error handler):
// the platform passes the provider to its interceptors and middleware
// explicitly, and a global would make one process's tests and modules
// affect another's. A service that wants spans of its own takes
// trace.TracerProvider from fx. The exporter's errors (a collector that is
// down) go to otel's default error handler, which logs to stderr.
var Module = fx.Module("tremolo.tracing",
	fx.Provide(func(p Params) (trace.TracerProvider, error) {
		service := string(p.Service)
		if service == "" {
			service = filepath.Base(os.Args[0])
		}
		tp, shutdown, err := NewProvider(p.Config, service)
		if err != nil {
			return nil, err
		}
		p.Lifecycle.Append(fx.StopHook(shutdown))
		return tp, nil
	}),
)
