// Package tracing follows a request across the services it touches, with
// OpenTelemetry spans propagated in the W3C Trace Context format
// (traceparent, tracestate).
//
// The edge's Middleware starts (or continues, from an app's traceparent)
// a trace per HTTP request. Every gRPC hop continues it: the client
// interceptors start a client span and put its span context in the call's
// outgoing metadata; the server interceptors read it back and start the
// server span, child of the client span, in the handler's context. This is
// done in interceptors and metadata rather than with gRPC stats handlers
// (otelgrpc) because calls between the services of one process go over an
// in-process channel, which runs interceptors but has no stats handlers and
// does not carry context values: metadata is what crosses both paths.
//
// LogHandler puts trace_id and span_id on every log line written with a
// request's context, which is what makes tracing worth having on with no
// collector at all: -tracing is on by default and -otlp-endpoint empty.
// With a collector, sampled spans are exported to it over OTLP/gRPC.
//
// Tracing off (-tracing=false) creates no spans but still forwards the
// trace context a request arrived with, so the hop is invisible rather
// than a break in the trace, and its logs still name the caller's trace.
//
// Nothing global is set (no otel.SetTracerProvider, no
// otel.SetTextMapPropagator): the TracerProvider is passed explicitly.
package tracing
