// Package tracing follows a request across the services it touches, with
// OpenTelemetry spans propagated in the W3C Trace Context format
// (traceparent, tracestate).
//
// The edge's Middleware starts (or continues, from an app's traceparent)
// a trace per HTTP request. Every gRPC hop continues it: the server
// interceptors read the caller's span context from the call's incoming
// metadata and start the server span, its child, in the handler's context.
// What the caller sends depends on where the call goes. A call that leaves
// the process gets a client span (UnaryClientInterceptor), whose span
// context it sends: the server span is the client span's child, and the
// gap between them is the network and the callee's queue. A call to a
// service of the same process, over the in-process channel, gets none: the
// caller's own span context goes to the callee, so the callee's server
// span is the caller's span's direct child. A client span there would time
// the same work as the server span beneath it, for the cost of a span per
// call: four of the nine spans of the all-in-one's feed request were such
// client spans. For unary calls the channel (server.LocalChannel) hands
// the span context over itself, as the handler's remote parent, which the
// server interceptors prefer to the metadata's; streams take
// StreamClientPropagator, which sends it as metadata, as
// UnaryClientPropagator does for any other channel. platform/app chooses
// per connection, from the way platform/client says its calls take
// (client.Path). A REST request entering its service in-process
// (server.LocalChannel.Entry) runs in the HTTP span and has no span of
// its own.
//
// This is done in interceptors rather than with gRPC stats handlers
// (otelgrpc) because calls between the services of one process go over an
// in-process channel, which runs interceptors but has no stats handlers.
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
