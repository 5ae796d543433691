package app

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"google.golang.org/grpc"

	"github.com/tremolo-dev/tremolo/platform/breaker"
	"github.com/tremolo-dev/tremolo/platform/client"
	"github.com/tremolo-dev/tremolo/platform/faultinject"
	"github.com/tremolo-dev/tremolo/platform/retry"
	"github.com/tremolo-dev/tremolo/platform/rpc"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/shedding"
	"github.com/tremolo-dev/tremolo/platform/tracing"
)

// Callees are this process's circuit breakers and retriers: one of each
// per service it calls, shared by every connection to that service, so
// that a callee has one breaker state and one retry budget whoever calls.
// Breaker thresholds can change while the process runs (SetBreakerSettings,
// fed by dynamic configuration).
type Callees struct {
	tracer trace.TracerProvider
	logger *slog.Logger
	bm     *breaker.Metrics
	rm     *retry.Metrics

	mu       sync.Mutex
	settings breaker.Settings
	byName   map[string]*callee
}

type callee struct {
	breakers *breaker.Breakers
	retrier  *retry.Retrier
}

// NewCallees returns Callees whose calls are traced by tp and whose metrics
// go to reg.
func NewCallees(tp trace.TracerProvider, reg prometheus.Registerer, logger *slog.Logger) (*Callees, error) {
	bm, err := breaker.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	rm, err := retry.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Callees{tracer: tp, logger: logger, bm: bm, rm: rm, settings: breaker.DefaultSettings(), byName: map[string]*callee{}}, nil
}

// Interceptors returns the tracing, breaker and retry interceptors of calls
// to service over path (client.Options.Middleware). Calls that leave the
// process get a client span, which covers the whole call, retries
// included. Calls within it get no span of their own, so the callee's
// server span is the caller's span's child: a unary call's channel
// (server.LocalChannel) hands the caller's span context over itself, and
// a stream's gets it from tracing.StreamClientPropagator. The gateway's
// calls into its own process (client.GatewayEntry) run on the REST
// request's own context, span included (server.LocalChannel.Entry), and
// want neither breakers nor retries. The breaker sees a call's outcome
// after retries, and a call it drops is not retried.
func (c *Callees) Interceptors(service string, table rpc.Table, path client.Path) ([]grpc.UnaryClientInterceptor, []grpc.StreamClientInterceptor) {
	var traceUnary []grpc.UnaryClientInterceptor
	traceStream := tracing.StreamClientPropagator()
	if path == client.Network {
		traceUnary, traceStream = []grpc.UnaryClientInterceptor{tracing.UnaryClientInterceptor(c.tracer)}, tracing.StreamClientInterceptor(c.tracer)
	}
	if path == client.GatewayEntry {
		return nil, []grpc.StreamClientInterceptor{traceStream}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.byName[service]
	if !ok {
		b := breaker.New(service, table, breaker.WithMetrics(c.bm), breaker.WithLogger(c.logger))
		if err := b.SetSettings(c.settings); err != nil {
			// c.settings passed Validate in SetBreakerSettings.
			c.logger.Error("breaker settings", slog.Any("error", err))
		}
		r, err := retry.New(service, table, retry.WithMetrics(c.rm))
		if err != nil {
			// The defaults are valid; this is a programming error, and
			// calls still work without retries.
			c.logger.Error("retries disabled", slog.String("service", service), slog.Any("error", err))
		}
		cl = &callee{breakers: b, retrier: r}
		c.byName[service] = cl
	}
	unary := append(traceUnary, cl.breakers.UnaryClientInterceptor())
	if cl.retrier != nil {
		unary = append(unary, cl.retrier.UnaryClientInterceptor())
	}
	return unary, []grpc.StreamClientInterceptor{traceStream, cl.breakers.StreamClientInterceptor()}
}

// SetBreakerSettings changes the thresholds of every breaker, present and
// future. Invalid settings are refused and the old ones kept.
func (c *Callees) SetBreakerSettings(s breaker.Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, cl := range c.byName {
		if err := cl.breakers.SetSettings(s); err != nil {
			return fmt.Errorf("app: breakers of %s: %w", name, err)
		}
	}
	c.settings = s
	return nil
}

// NewShedder returns the load shedder of -max-in-flight. It counts the
// calls that arrive over the network only: calls between the services of
// this process belong to a request already admitted.
func NewShedder(cfg Config, reg prometheus.Registerer) (*shedding.Shedder, error) {
	if cfg.MaxInFlight < 0 {
		return nil, fmt.Errorf("app: -max-in-flight %d is negative (0 means no limit)", cfg.MaxInFlight)
	}
	m, err := shedding.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	return shedding.New(cfg.MaxInFlight, shedding.WithMetrics(m), shedding.WithExempt(server.InProcess)), nil
}

// FaultsParams are the inputs of NewFaults.
type FaultsParams struct {
	fx.In

	Registerer prometheus.Registerer
	Services   []server.Service `group:"tremolo.services"`
}

// NewFaults returns the fault injector of this process's services, without
// rules (dynamic configuration's "faults" document sets them). Rules may
// name services by their short names.
func NewFaults(p FaultsParams) (*faultinject.Injector, error) {
	m, err := faultinject.NewMetrics(p.Registerer)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, s := range p.Services {
		if s.Name != "" && s.Desc != nil {
			names[s.Desc.ServiceName] = s.Name
		}
	}
	return faultinject.New(faultinject.WithServiceNames(names), faultinject.WithMetrics(m)), nil
}

// ServerParams are the inputs of serverInterceptors.
type ServerParams struct {
	fx.In

	Tracer  trace.TracerProvider
	Shedder *shedding.Shedder
	Faults  *faultinject.Injector
}

// serverInterceptors are the governance interceptors of every call this
// process serves: the server span around everything, so that a shed or
// injected failure shows in the trace; then, inside metrics and error
// conversion (so that they are counted like any failure), shedding (an
// overloaded process refuses before doing any work) and injected faults.
func serverInterceptors(p ServerParams) server.Interceptors {
	return server.Interceptors{
		Unary:       []grpc.UnaryServerInterceptor{tracing.UnaryServerInterceptor(p.Tracer)},
		Stream:      []grpc.StreamServerInterceptor{tracing.StreamServerInterceptor(p.Tracer)},
		GuardUnary:  []grpc.UnaryServerInterceptor{p.Shedder.UnaryServerInterceptor(), p.Faults.UnaryServerInterceptor()},
		GuardStream: []grpc.StreamServerInterceptor{p.Shedder.StreamServerInterceptor(), p.Faults.StreamServerInterceptor()},
	}
}
