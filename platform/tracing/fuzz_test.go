package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

var (
	// wellFormed is a version-00 traceparent with non-zero ids: one the
	// server must continue.
	wellFormed = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-0[0-3]$`)
	// continuable is the least a continued traceparent must look like.
	continuable = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}`)
)

// FuzzExtract sends arbitrary traceparent and tracestate values through
// the server interceptor's metadata and the middleware's headers: neither
// may panic, every request gets a valid span, and a span continues a trace
// only from a traceparent naming it, else it starts a new one.
func FuzzExtract(f *testing.F) {
	for _, tp := range []string{
		appParent,
		"00-" + appTraceID + "-" + appSpanID + "-00",
		"00-" + strings.ToUpper(appTraceID) + "-" + appSpanID + "-01",
		"00-00000000000000000000000000000000-" + appSpanID + "-01",
		"00-" + appTraceID + "-0000000000000000-01",
		"00-" + appTraceID + "-" + appSpanID + "-01-extra",
		"00-" + appTraceID + "-" + appSpanID + "-ff",
		"01-" + appTraceID + "-" + appSpanID + "-01-future",
		"ff-" + appTraceID + "-" + appSpanID + "-01",
		"00-" + appTraceID + "-" + appSpanID,
		"00-" + appTraceID[:31] + "é-" + appSpanID + "-01",
		"0-0-0-0", "----", "", "\x00", strings.Repeat("0", 4096),
	} {
		f.Add(tp, "vendor=abc")
		f.Add(tp, ",,,=\x00é")
	}
	// Sample everything, even under unsampled parents, so that every span
	// records its parent; nothing is kept.
	tp, _, err := newProvider(Config{Enabled: true, SampleRatio: 1}, "fuzz", sdktrace.WithSampler(sdktrace.AlwaysSample()))
	if err != nil {
		f.Fatal(err)
	}
	server := UnaryServerInterceptor(tp)
	info := &grpc.UnaryServerInfo{FullMethod: callMethod}
	var got trace.Span
	capture := func(ctx context.Context, _ any) (any, error) { got = trace.SpanFromContext(ctx); return nil, nil }
	edge := Middleware(tp, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = trace.SpanFromContext(r.Context()) }))

	f.Fuzz(func(t *testing.T, traceparent, tracestate string) {
		md := metadata.MD{"traceparent": {traceparent}, "tracestate": {tracestate}}
		got = nil
		if _, err := server(metadata.NewIncomingContext(context.Background(), md), nil, info, capture); err != nil {
			t.Fatal(err)
		}
		checkContinued(t, "grpc", traceparent, got)

		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["Traceparent"] = []string{traceparent}
		req.Header["Tracestate"] = []string{tracestate}
		rec := httptest.NewRecorder()
		got = nil
		edge.ServeHTTP(rec, req)
		checkContinued(t, "http", traceparent, got)
		sc := got.SpanContext()
		if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; rec.Header().Get("Traceparent") != want {
			t.Errorf("http: response traceparent %q, want %q", rec.Header().Get("Traceparent"), want)
		}
	})
}

func checkContinued(t *testing.T, path, header string, span trace.Span) {
	t.Helper()
	if span == nil || !span.SpanContext().IsValid() {
		t.Fatalf("%s: %q: handler has no valid span", path, header)
	}
	parent := span.(sdktrace.ReadOnlySpan).Parent()
	switch {
	case parent.IsValid():
		if !continuable.MatchString(header) || !strings.Contains(header, parent.TraceID().String()+"-"+parent.SpanID().String()) ||
			span.SpanContext().TraceID() != parent.TraceID() {
			t.Errorf("%s: %q continued as trace %s parent %s", path, header, parent.TraceID(), parent.SpanID())
		}
	case wellFormed.MatchString(header) && !strings.Contains(header, "-"+strings.Repeat("0", 32)+"-") && !strings.Contains(header, "-"+strings.Repeat("0", 16)+"-"):
		t.Errorf("%s: well-formed %q not continued", path, header)
	}
}
