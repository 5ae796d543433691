package tracing

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/credentials"
)

// NewProvider returns the TracerProvider cfg describes for the process
// named service, and the function that flushes and stops it (call it once,
// at shutdown, with a context bounding the flush).
//
// With cfg.Enabled false the provider is a no-op: it creates no spans, but
// a no-op span carries the span context it was started from, so the
// interceptors and the middleware still pass a caller's trace context on to
// callees and into log lines untouched. One untraced hop then shows up in
// a trace as a gap (the callee's parent is its caller's span, the client
// span of a call over the network), not as a broken trace.
//
// Enabled, sampling is parent-based: a request with a caller's trace
// context follows the caller's sampled flag; a new trace is sampled with
// probability cfg.SampleRatio. With cfg.OTLPEndpoint set, sampled spans
// are batched to that collector by the OpenTelemetry SDK. Without, spans
// get ids and sampled flags but record nothing (idsOnly): the ids are what
// logs and callees need, and recording spans only to drop them would cost
// every call for nothing.
func NewProvider(cfg Config, service string) (trace.TracerProvider, func(context.Context) error, error) {
	return newProvider(cfg, service)
}

// newProvider is NewProvider with extra SDK options, for tests to record
// spans: given any, the SDK's provider is used even without an endpoint.
func newProvider(cfg Config, service string, extra ...sdktrace.TracerProviderOption) (trace.TracerProvider, func(context.Context) error, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if !cfg.Enabled {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	if service == "" {
		return nil, nil, errors.New("tracing: empty service name: spans need a service.name")
	}
	sampler := sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))
	if cfg.OTLPEndpoint == "" && len(extra) == 0 {
		return newIDsOnly(sampler), func(context.Context) error { return nil }, nil
	}
	res, err := resource.Merge(resource.Default(),
		resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service)))
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: resource for service %q: %w", service, err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	if cfg.OTLPEndpoint != "" {
		exp, err := newExporter(cfg)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(append(opts, extra...)...)
	return tp, tp.Shutdown, nil
}

// newExporter returns an OTLP/gRPC exporter to cfg.OTLPEndpoint. It does
// not connect: the connection is made, and remade, as spans are sent, so a
// collector that starts after the process, or restarts, loses only the
// batches sent while it was down.
func newExporter(cfg Config) (sdktrace.SpanExporter, error) {
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(cfg.OTLPEndpoint)}
	if cfg.OTLPInsecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	} else {
		// Explicit, so that OTEL_EXPORTER_OTLP_INSECURE in the environment
		// cannot turn TLS off behind the flag's back.
		opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(nil)))
	}
	exp, err := otlptracegrpc.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter to %s: %w", cfg.OTLPEndpoint, err)
	}
	return exp, nil
}
