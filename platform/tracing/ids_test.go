package tracing

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// parentID is the span id a call's traceparent names.
func parentID(t *testing.T, md metadata.MD) string {
	t.Helper()
	v := md.Get("traceparent")
	if len(v) != 1 || len(strings.Split(v[0], "-")) != 4 {
		t.Fatalf("traceparent %q", v)
	}
	return strings.Split(v[0], "-")[2]
}

// The default configuration (on, no collector) records nothing, yet every
// hop gets its own span in the caller's trace, and each call names as the
// parent a client span of its own over the network, its caller's span in
// process, as with the SDK.
func TestIDsOnlyContinuesTrace(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			tp, shutdown, err := NewProvider(Config{Enabled: true, SampleRatio: 1}, "a")
			if err != nil {
				t.Fatal(err)
			}
			defer shutdown(context.Background())
			if _, ok := tp.(*idsOnly); !ok {
				t.Fatalf("provider %T, want ids only", tp)
			}
			c := newChain(t, transport, func(string) trace.TracerProvider { return tp })
			resp := get(edge(tp, c.entry), "/feed/1", map[string]string{"Traceparent": appParent})
			if resp.Code != http.StatusOK {
				t.Fatalf("response %d", resp.Code)
			}
			edgeSpan := strings.Split(resp.Header().Get("Traceparent"), "-")
			if len(edgeSpan) != 4 || edgeSpan[1] != appTraceID || edgeSpan[3] != "01" {
				t.Fatalf("response traceparent %q", resp.Header().Get("Traceparent"))
			}
			servers := map[string]bool{appSpanID: true, edgeSpan[2]: true}
			callers := []string{edgeSpan[2]} // each hop's caller's span
			var parents []string
			for _, h := range []*hop{c.a, c.b, c.c} {
				sc, md := h.lastSeen()
				if sc.TraceID().String() != appTraceID || !sc.IsSampled() || sc.IsRemote() {
					t.Errorf("%s: span context %v, want a local sampled span in the app's trace", h.name, sc)
				}
				if servers[sc.SpanID().String()] {
					t.Errorf("%s: span id %s reused", h.name, sc.SpanID())
				}
				servers[sc.SpanID().String()] = true
				callers = append(callers, sc.SpanID().String())
				parents = append(parents, parentID(t, md))
			}
			for i, p := range parents {
				switch {
				case transport == "inproc" && p != callers[i]:
					t.Errorf("in-process call %d names %s as its parent, want its caller's span %s", i, p, callers[i])
				case transport == "grpc" && servers[p]:
					t.Errorf("call %d names server span %s as its parent, want a client span", i, p)
				}
			}
			if _, span := tp.Tracer("x").Start(context.Background(), "x"); span.IsRecording() {
				t.Error("ids-only span records")
			}
		})
	}
}

func TestIDsOnlySampling(t *testing.T) {
	unsampled := "00-" + appTraceID + "-" + appSpanID + "-00"
	for _, tc := range []struct {
		ratio   float64
		parent  string // incoming traceparent, "" for none
		sampled bool
	}{
		{1, "", true},
		{0, "", false},
		{0, appParent, true}, // the caller decided
		{1, unsampled, false},
	} {
		tp, _, err := NewProvider(Config{Enabled: true, SampleRatio: tc.ratio}, "a")
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if tc.parent != "" {
			ctx = propagator.Extract(ctx, headerCarrier(http.Header{"Traceparent": {tc.parent}}))
		}
		_, span := tp.Tracer("x").Start(ctx, "x", serverKind...)
		sc := span.SpanContext()
		if !sc.IsValid() || sc.IsSampled() != tc.sampled {
			t.Errorf("ratio %v, parent %q: %v, want valid and sampled=%v", tc.ratio, tc.parent, sc, tc.sampled)
		}
		if tc.parent != "" && (sc.TraceID().String() != appTraceID || sc.SpanID().String() == appSpanID) {
			t.Errorf("ratio %v, parent %q: trace %s span %s", tc.ratio, tc.parent, sc.TraceID(), sc.SpanID())
		}
		if span.TracerProvider() != tp {
			t.Errorf("span's provider %v, want %v", span.TracerProvider(), tp)
		}
	}
}

func TestIDsOnlyNewRoot(t *testing.T) {
	tp, _, err := NewProvider(Config{Enabled: true, SampleRatio: 1}, "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx := propagator.Extract(context.Background(), headerCarrier(http.Header{"Traceparent": {appParent}}))
	_, span := tp.Tracer("x").Start(ctx, "x", trace.WithNewRoot())
	if sc := span.SpanContext(); !sc.IsValid() || sc.TraceID().String() == appTraceID {
		t.Errorf("new root %v, want a new trace", sc)
	}
}
