package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// idsOnly is the TracerProvider of a process that traces without a
// collector (-tracing on, -otlp-endpoint empty, the default). Its spans
// record nothing, since nothing would read what they record, but are
// otherwise real: each has a fresh span id, a trace id taken from its
// parent or made up, and the sampled flag the configured sampler gives, so
// logs carry ids that lead somewhere and a collector-equipped process
// downstream still honours the trace's sampling decision.
//
// The SDK's provider with no span processor would do the same at about
// three times the cost per call (BenchmarkInterceptors, on/no-exporter
// against on/sdk-no-processor): it builds a full recording span
// (attributes, timestamps) for every sampled span only to drop it on End.
type idsOnly struct {
	embedded.TracerProvider
	tracer idsTracer
}

func newIDsOnly(sampler sdktrace.Sampler) *idsOnly {
	p := &idsOnly{}
	p.tracer = idsTracer{sampler: sampler, provider: p}
	return p
}

// Tracer returns the provider's one tracer: its spans keep no scope.
func (p *idsOnly) Tracer(string, ...trace.TracerOption) trace.Tracer { return &p.tracer }

type idsTracer struct {
	embedded.Tracer
	sampler  sdktrace.Sampler
	provider *idsOnly
}

// Start returns a non-recording span with new ids, child of ctx's span
// context (unless the options ask for a new root).
func (t *idsTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg := trace.NewSpanStartConfig(opts...)
	var parent trace.SpanContext
	if cfg.NewRoot() {
		ctx = trace.ContextWithSpanContext(ctx, parent) // the sampler must not see the old parent
	} else {
		parent = trace.SpanContextFromContext(ctx)
	}
	scc := trace.SpanContextConfig{TraceID: parent.TraceID(), TraceState: parent.TraceState()}
	if !scc.TraceID.IsValid() {
		binary.NativeEndian.PutUint64(scc.TraceID[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(scc.TraceID[8:], rand.Uint64())
	}
	for !scc.SpanID.IsValid() {
		binary.NativeEndian.PutUint64(scc.SpanID[:], rand.Uint64())
	}
	res := t.sampler.ShouldSample(sdktrace.SamplingParameters{
		ParentContext: ctx,
		TraceID:       scc.TraceID,
		Name:          name,
		Kind:          cfg.SpanKind(),
	})
	scc.TraceFlags = parent.TraceFlags() &^ trace.FlagsSampled
	if res.Decision == sdktrace.RecordAndSample {
		scc.TraceFlags |= trace.FlagsSampled
	}
	s := &idSpan{sc: trace.NewSpanContext(scc), provider: t.provider}
	return trace.ContextWithSpan(ctx, s), s
}

// idSpan is a span that only has a span context.
type idSpan struct {
	embedded.Span
	sc       trace.SpanContext
	provider *idsOnly
}

func (s *idSpan) SpanContext() trace.SpanContext          { return s.sc }
func (s *idSpan) IsRecording() bool                       { return false }
func (s *idSpan) TracerProvider() trace.TracerProvider    { return s.provider }
func (s *idSpan) End(...trace.SpanEndOption)              {}
func (s *idSpan) AddEvent(string, ...trace.EventOption)   {}
func (s *idSpan) AddLink(trace.Link)                      {}
func (s *idSpan) RecordError(error, ...trace.EventOption) {}
func (s *idSpan) SetStatus(otelcodes.Code, string)        {}
func (s *idSpan) SetName(string)                          {}
func (s *idSpan) SetAttributes(...attribute.KeyValue)     {}
