package tracing

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tremolo-dev/tremolo/platform/routing"
)

const (
	appTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	appSpanID  = "00f067aa0ba902b7"
	appParent  = "00-" + appTraceID + "-" + appSpanID + "-01"
)

// providers returns a function giving each service its own recording
// provider, all recording into rec.
func providers(t testing.TB, rec *tracetest.SpanRecorder) func(string) trace.TracerProvider {
	var mu sync.Mutex
	tps := map[string]trace.TracerProvider{}
	return func(service string) trace.TracerProvider {
		mu.Lock()
		defer mu.Unlock()
		if tps[service] == nil {
			tps[service] = recording(t, rec, service)
		}
		return tps[service]
	}
}

// edge is the HTTP front of a chain: a mux routing /feed/{id} to a handler
// that calls A with the request's context and its routing attributes, as
// the edge's gateway does.
func edge(tp trace.TracerProvider, entry grpc.ClientConnInterface) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /feed/{id}", func(w http.ResponseWriter, r *http.Request) {
		ctx := routing.NewContext(r.Context(), routing.FromHeader(r.Header))
		out := new(wrapperspb.StringValue)
		if err := entry.Invoke(ctx, callMethod, wrapperspb.String(r.PathValue("id")), out); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, out.GetValue())
	})
	return Middleware(tp, mux)
}

// get sends GET path to h with headers, returning the response.
func get(h http.Handler, path string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func service(s sdktrace.ReadOnlySpan) string {
	v, _ := s.Resource().Set().Value(semconv.ServiceNameKey)
	return v.AsString()
}

// span returns the one ended span of service with kind.
func span(t testing.TB, spans []sdktrace.ReadOnlySpan, svc string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if service(s) == svc && s.SpanKind() == kind {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s spans of %s, want 1", len(found), kind, svc)
	}
	return found[0]
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value.Emit()
		}
	}
	return ""
}

// wantChild checks that child's parent is parent, and whether it crossed
// a process boundary to get there.
func wantChild(t testing.TB, child, parent sdktrace.ReadOnlySpan, remote bool) {
	t.Helper()
	if got := child.Parent(); got.SpanID() != parent.SpanContext().SpanID() || got.IsRemote() != remote {
		t.Errorf("%s %s: parent %s (remote %v), want %s %s %s (remote %v)", service(child), child.SpanKind(),
			got.SpanID(), got.IsRemote(), service(parent), parent.SpanKind(), parent.SpanContext().SpanID(), remote)
	}
}

func TestOneTraceAcrossHops(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := providers(t, rec)
			c := newChain(t, transport, tp)
			resp := get(edge(tp("edge"), c.entry), "/feed/7", map[string]string{
				"Traceparent":            appParent,
				routing.TrafficTagHeader: "shadow",
				routing.CellHeader:       "3",
			})
			if resp.Code != http.StatusOK || resp.Body.String() != "7ABC" {
				t.Fatalf("response %d %q", resp.Code, resp.Body)
			}

			spans := rec.Ended()
			want := map[string]int{
				"grpc":   7, // edge server and client, A and B server and client, C server
				"inproc": 4, // edge, A, B and C server: in-process calls have no client span
			}[transport]
			if len(spans) != want {
				t.Fatalf("%d spans, want %d", len(spans), want)
			}
			for _, s := range spans {
				if got := s.SpanContext().TraceID().String(); got != appTraceID {
					t.Errorf("%s %s %q: trace %s, want the app's %s", service(s), s.SpanKind(), s.Name(), got, appTraceID)
				}
			}
			httpSpan := span(t, spans, "edge", trace.SpanKindServer)
			if p := httpSpan.Parent(); p.SpanID().String() != appSpanID || !p.IsRemote() {
				t.Errorf("edge span's parent %s, want the app's %s", p.SpanID(), appSpanID)
			}
			aServer, bServer, cServer := span(t, spans, "a", trace.SpanKindServer), span(t, spans, "b", trace.SpanKindServer), span(t, spans, "c", trace.SpanKindServer)
			rpcSpans := []sdktrace.ReadOnlySpan{aServer, bServer, cServer}
			if transport == "grpc" {
				edgeCall, aCall, bCall := span(t, spans, "edge", trace.SpanKindClient), span(t, spans, "a", trace.SpanKindClient), span(t, spans, "b", trace.SpanKindClient)
				wantChild(t, edgeCall, httpSpan, false)
				wantChild(t, aServer, edgeCall, true)
				wantChild(t, aCall, aServer, false)
				wantChild(t, bServer, aCall, true)
				wantChild(t, bCall, bServer, false)
				wantChild(t, cServer, bCall, true)
				rpcSpans = append(rpcSpans, edgeCall, aCall, bCall)
			} else {
				// Each server span is the direct child of its caller's
				// span, which reached it through the metadata.
				wantChild(t, aServer, httpSpan, true)
				wantChild(t, bServer, aServer, true)
				wantChild(t, cServer, bServer, true)
			}

			if want := "00-" + appTraceID + "-" + httpSpan.SpanContext().SpanID().String() + "-01"; resp.Header().Get("Traceparent") != want {
				t.Errorf("response traceparent %q, want %q", resp.Header().Get("Traceparent"), want)
			}
			if httpSpan.Name() != "HTTP GET /feed/{id}" || attr(httpSpan, semconv.HTTPRouteKey) != "/feed/{id}" {
				t.Errorf("edge span %q, route %q", httpSpan.Name(), attr(httpSpan, semconv.HTTPRouteKey))
			}
			for k, want := range map[attribute.Key]string{
				semconv.HTTPRequestMethodKey:      "GET",
				semconv.HTTPResponseStatusCodeKey: "200",
				semconv.URLPathKey:                "/feed/7",
				TrafficTagKey:                     "shadow",
				CellKey:                           "3",
			} {
				if got := attr(httpSpan, k); got != want {
					t.Errorf("edge span %s = %q, want %q", k, got, want)
				}
			}
			for _, s := range rpcSpans {
				for k, want := range map[attribute.Key]string{
					semconv.RPCSystemNameKey:         "grpc",
					semconv.RPCMethodKey:             "tremolo.test.Hop/Call",
					semconv.RPCResponseStatusCodeKey: "OK",
					TrafficTagKey:                    "shadow",
					CellKey:                          "3",
				} {
					if got := attr(s, k); got != want {
						t.Errorf("%s %s: %s = %q, want %q", service(s), s.SpanKind(), k, got, want)
					}
				}
				if s.Name() != "tremolo.test.Hop/Call" || s.Status().Code != otelcodes.Unset {
					t.Errorf("%s %s: name %q, status %v", service(s), s.SpanKind(), s.Name(), s.Status())
				}
			}
			// Each handler's context holds its own server span.
			for h, s := range map[*hop]sdktrace.ReadOnlySpan{c.a: aServer, c.b: bServer, c.c: cServer} {
				if sc, _ := h.lastSeen(); !sc.Equal(s.SpanContext()) {
					t.Errorf("%s's handler saw span %s, want its server span %s", h.name, sc.SpanID(), s.SpanContext().SpanID())
				}
			}
			// One traceparent per call, never two.
			if _, md := c.c.lastSeen(); len(md.Get("traceparent")) != 1 {
				t.Errorf("C received traceparent %q", md.Get("traceparent"))
			}
		})
	}
}

func TestNewTraceWithoutTraceparent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := providers(t, rec)
	c := newChain(t, "inproc", tp)
	resp := get(edge(tp("edge"), c.entry), "/feed/1", nil)
	spans := rec.Ended()
	if resp.Code != http.StatusOK || len(spans) != 4 {
		t.Fatalf("response %d, %d spans", resp.Code, len(spans))
	}
	root := span(t, spans, "edge", trace.SpanKindServer)
	if root.Parent().IsValid() {
		t.Errorf("edge span has parent %v, want a root", root.Parent())
	}
	for _, s := range spans {
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("%s %s in trace %s, want %s", service(s), s.SpanKind(), s.SpanContext().TraceID(), root.SpanContext().TraceID())
		}
	}
	if !strings.Contains(resp.Header().Get("Traceparent"), root.SpanContext().TraceID().String()) {
		t.Errorf("response traceparent %q, want trace %s", resp.Header().Get("Traceparent"), root.SpanContext().TraceID())
	}
}

func TestStreamSpans(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := providers(t, rec)
			c := newChain(t, transport, tp)
			ctx, root := tp("edge").Tracer("test").Start(context.Background(), "root")
			cs, err := c.entry.NewStream(ctx, watchDesc, watchMethod)
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.SendMsg(wrapperspb.String("x")); err != nil {
				t.Fatal(err)
			}
			if err := cs.CloseSend(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				m := new(wrapperspb.StringValue)
				if err := cs.RecvMsg(m); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				got = append(got, m.GetValue())
			}
			root.End()
			if strings.Join(got, ",") != "xa,xb" {
				t.Fatalf("received %q", got)
			}
			spans := rec.Ended()
			served := span(t, spans, "a", trace.SpanKindServer)
			streamSpans := []sdktrace.ReadOnlySpan{served}
			if transport == "grpc" {
				call := span(t, spans, "edge", trace.SpanKindClient)
				if call.Parent().SpanID() != root.SpanContext().SpanID() {
					t.Errorf("stream's client span is not the root's child")
				}
				wantChild(t, served, call, true)
				streamSpans = append(streamSpans, call)
			} else if served.Parent().SpanID() != root.SpanContext().SpanID() || len(spans) != 2 {
				t.Errorf("in-process stream: server span's parent %s, %d spans; want the root %s, and only the root and the server span",
					served.Parent().SpanID(), len(spans), root.SpanContext().SpanID())
			}
			for _, s := range streamSpans {
				if s.Name() != "tremolo.test.Hop/Watch" || attr(s, semconv.RPCResponseStatusCodeKey) != "OK" {
					t.Errorf("%s: name %q, code %q", s.SpanKind(), s.Name(), attr(s, semconv.RPCResponseStatusCodeKey))
				}
			}
		})
	}
}

// A caller that stops reading a stream and cancels it still gets its
// client span ended, as CANCELLED, and the server span ends.
func TestStreamSpanEndsOnCancel(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := providers(t, rec)
			c := newChain(t, transport, tp)
			c.a.block = true
			ctx, cancel := context.WithCancel(context.Background())
			cs, err := c.entry.NewStream(ctx, watchDesc, watchMethod)
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.SendMsg(wrapperspb.String("x")); err != nil {
				t.Fatal(err)
			}
			if err := cs.RecvMsg(new(wrapperspb.StringValue)); err != nil {
				t.Fatal(err)
			}
			cancel()
			want := map[string]int{"grpc": 2, "inproc": 1}[transport] // in-process: no client span
			deadline := time.Now().Add(5 * time.Second)
			for len(rec.Ended()) < want && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			spans := rec.Ended()
			if transport == "grpc" {
				call := span(t, spans, "edge", trace.SpanKindClient)
				if attr(call, semconv.RPCResponseStatusCodeKey) != "CANCELLED" || call.Status().Code != otelcodes.Error {
					t.Errorf("client span: code %q, status %v", attr(call, semconv.RPCResponseStatusCodeKey), call.Status())
				}
			}
			// Cancelled by its caller, the server did nothing wrong.
			if served := span(t, spans, "a", trace.SpanKindServer); served.Status().Code != otelcodes.Unset {
				t.Errorf("server span status %v, want unset", served.Status())
			}
		})
	}
}

func TestErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err         error
		code        string
		serverError bool
	}{
		{status.Error(codes.NotFound, "no such video"), "NOT_FOUND", false},
		{status.Error(codes.Internal, "broken"), "INTERNAL", true},
		{context.DeadlineExceeded, "DEADLINE_EXCEEDED", true},
		{errors.New("plain"), "UNKNOWN", true},
	} {
		t.Run(tc.code, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := providers(t, rec)
			c := newChain(t, "grpc", tp)
			c.c.fail = tc.err
			err := c.entry.Invoke(context.Background(), callMethod, wrapperspb.String("x"), new(wrapperspb.StringValue))
			if status.Code(err).String() == "OK" {
				t.Fatal("call succeeded")
			}
			spans := rec.Ended()
			served, call := span(t, spans, "c", trace.SpanKindServer), span(t, spans, "b", trace.SpanKindClient)
			for _, s := range []sdktrace.ReadOnlySpan{served, call} {
				if got := attr(s, semconv.RPCResponseStatusCodeKey); got != tc.code {
					t.Errorf("%s: code %q, want %q", s.SpanKind(), got, tc.code)
				}
			}
			if call.Status().Code != otelcodes.Error || attr(call, semconv.ErrorTypeKey) != tc.code {
				t.Errorf("client span: status %v, error.type %q", call.Status(), attr(call, semconv.ErrorTypeKey))
			}
			if got := served.Status().Code == otelcodes.Error; got != tc.serverError {
				t.Errorf("server span: error %v, want %v", got, tc.serverError)
			}
		})
	}
}

func TestPanicEndsSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := recording(t, rec, "a")
	func() {
		defer func() { _ = recover() }()
		_, _ = UnaryServerInterceptor(tp)(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: callMethod},
			func(context.Context, any) (any, error) { panic("boom") })
	}()
	func() {
		defer func() { _ = recover() }()
		Middleware(tp, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })).
			ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans ended, want 2", len(spans))
	}
	for _, s := range spans {
		if s.Status().Code != otelcodes.Error {
			t.Errorf("%q: status %v, want error", s.Name(), s.Status())
		}
	}
}

func TestHTTPServerErrorAndUnknownMethod(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	h := Middleware(recording(t, rec, "edge"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/pot", nil))
	s := rec.Ended()[0]
	if s.Name() != "HTTP _OTHER /pot" || s.Status().Code != otelcodes.Error ||
		attr(s, semconv.HTTPRequestMethodOriginalKey) != "BREW" || attr(s, semconv.ErrorTypeKey) != "503" {
		t.Errorf("span %q, status %v, attributes %v", s.Name(), s.Status(), s.Attributes())
	}
}

// The response writer still flushes: the gateway's streaming responses
// need http.Flusher.
func TestMiddlewareKeepsFlusher(t *testing.T) {
	h := Middleware(recording(t, tracetest.NewSpanRecorder(), "edge"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Error("response writer is not an http.Flusher")
			return
		}
		_, _ = io.WriteString(w, "x")
		f.Flush()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !rec.Flushed {
		t.Error("not flushed")
	}
}

// A traceparent already in the outgoing metadata (a handler that copied
// its incoming metadata) is replaced by the client span's, not joined.
func TestInjectReplacesStaleTraceparent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := recording(t, rec, "a")
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", appParent, "tracestate", "old=1", "x-other", "kept")
	var sent metadata.MD
	err := UnaryClientInterceptor(tp)(ctx, callMethod, nil, nil, nil, func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		sent, _ = metadata.FromOutgoingContext(ctx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	call := rec.Ended()[0]
	want := "00-" + call.SpanContext().TraceID().String() + "-" + call.SpanContext().SpanID().String() + "-01"
	if got := sent.Get("traceparent"); len(got) != 1 || got[0] != want {
		t.Errorf("sent traceparent %q, want [%q]", got, want)
	}
	if got := sent.Get("tracestate"); len(got) != 0 {
		t.Errorf("sent stale tracestate %q", got)
	}
	if got := sent.Get("x-other"); len(got) != 1 {
		t.Errorf("lost other metadata: %v", sent)
	}
}

// tracestate is vendor data for tracers downstream: it is carried along.
func TestTracestateForwarded(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := providers(t, rec)
	c := newChain(t, "inproc", tp)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", appParent, "tracestate", "vendor=abc"))
	_, err := UnaryServerInterceptor(tp("edge"))(ctx, nil, &grpc.UnaryServerInfo{FullMethod: callMethod}, func(ctx context.Context, _ any) (any, error) {
		return nil, c.entry.Invoke(ctx, callMethod, wrapperspb.String("x"), new(wrapperspb.StringValue))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, md := c.c.lastSeen(); strings.Join(md.Get("tracestate"), ",") != "vendor=abc" {
		t.Errorf("C received tracestate %q", md.Get("tracestate"))
	}
}

func TestSeveralTraceparentsStartANewTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := recording(t, rec, "a")
	ctx := metadata.NewIncomingContext(context.Background(), metadata.MD{"traceparent": {appParent, appParent}})
	_, _ = UnaryServerInterceptor(tp)(ctx, nil, &grpc.UnaryServerInfo{FullMethod: callMethod}, func(context.Context, any) (any, error) { return nil, nil })
	if s := rec.Ended()[0]; s.Parent().IsValid() || s.SpanContext().TraceID().String() == appTraceID {
		t.Errorf("span continued an ambiguous trace context: parent %v", s.Parent())
	}
}

// Ratio 0: nothing is sampled or recorded, yet every hop has ids, in one
// trace, and tells the next.
func TestSampleRatioZeroStillPropagates(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	var mu sync.Mutex
	tps := map[string]trace.TracerProvider{}
	tp := func(svc string) trace.TracerProvider {
		mu.Lock()
		defer mu.Unlock()
		if tps[svc] == nil {
			tp, _, err := newProvider(Config{Enabled: true, SampleRatio: 0}, svc, sdktrace.WithSpanProcessor(rec))
			if err != nil {
				t.Fatal(err)
			}
			tps[svc] = tp
		}
		return tps[svc]
	}
	c := newChain(t, "inproc", tp)
	resp := get(edge(tp("edge"), c.entry), "/feed/1", nil)
	if resp.Code != http.StatusOK {
		t.Fatalf("response %d", resp.Code)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded at ratio 0", n)
	}
	a, _ := c.a.lastSeen()
	cs, cmd := c.c.lastSeen()
	if !a.IsValid() || a.IsSampled() {
		t.Fatalf("A's span context %v: want valid, not sampled", a)
	}
	if cs.TraceID() != a.TraceID() || cs.SpanID() == a.SpanID() {
		t.Errorf("C: trace %s span %s; A: trace %s span %s", cs.TraceID(), cs.SpanID(), a.TraceID(), a.SpanID())
	}
	if tpv := cmd.Get("traceparent"); len(tpv) != 1 || !strings.HasSuffix(tpv[0], "-00") || !strings.Contains(tpv[0], a.TraceID().String()) {
		t.Errorf("C received traceparent %q", tpv)
	}
	if !strings.HasSuffix(resp.Header().Get("Traceparent"), "-00") {
		t.Errorf("response traceparent %q, want unsampled", resp.Header().Get("Traceparent"))
	}

	// A caller's sampled decision is followed whatever the local ratio.
	resp = get(edge(tp("edge"), c.entry), "/feed/1", map[string]string{"Traceparent": appParent})
	if n := len(rec.Ended()); resp.Code != http.StatusOK || n != 4 {
		t.Errorf("sampled caller: response %d, %d spans recorded, want 4 (edge, A, B, C)", resp.Code, n)
	}
}

// Tracing off records nothing and changes nothing: the caller's trace
// context reaches the last hop as it arrived.
func TestTracingOffPassesContextThrough(t *testing.T) {
	tp, shutdown, err := NewProvider(Config{Enabled: false, SampleRatio: 1}, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	c := newChain(t, "grpc", func(string) trace.TracerProvider { return tp })
	h := edge(tp, c.entry)

	resp := get(h, "/feed/1", map[string]string{"Traceparent": appParent})
	if resp.Code != http.StatusOK {
		t.Fatalf("response %d", resp.Code)
	}
	for _, hp := range []*hop{c.a, c.b, c.c} {
		sc, md := hp.lastSeen()
		if sc.TraceID().String() != appTraceID || sc.SpanID().String() != appSpanID {
			t.Errorf("%s saw %s/%s, want the app's %s/%s", hp.name, sc.TraceID(), sc.SpanID(), appTraceID, appSpanID)
		}
		if got := md.Get("traceparent"); len(got) != 1 || got[0] != appParent {
			t.Errorf("%s received traceparent %q, want %q", hp.name, got, appParent)
		}
	}
	if got := resp.Header().Get("Traceparent"); got != appParent {
		t.Errorf("response traceparent %q, want %q", got, appParent)
	}

	resp = get(h, "/feed/1", nil)
	if sc, md := c.c.lastSeen(); sc.IsValid() || len(md.Get("traceparent")) != 0 {
		t.Errorf("without a caller's context, C saw %v and traceparent %q", sc, md.Get("traceparent"))
	}
	if got := resp.Header().Get("Traceparent"); got != "" {
		t.Errorf("response traceparent %q, want none", got)
	}
	_, span := tp.Tracer("x").Start(context.Background(), "x")
	if span.IsRecording() {
		t.Error("tracing off made a recording span")
	}
}

// A router other than a ServeMux names the span with SetHTTPRoute, and
// wins over the catch-all pattern of a mux in front of it.
func TestSetHTTPRoute(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { SetHTTPRoute(r, "/v1/videos/{id}") })
	get(Middleware(recording(t, rec, "edge"), mux), "/v1/videos/123", nil)
	s := rec.Ended()[0]
	if s.Name() != "HTTP GET /v1/videos/{id}" || attr(s, semconv.HTTPRouteKey) != "/v1/videos/{id}" {
		t.Errorf("span %q, route %q", s.Name(), attr(s, semconv.HTTPRouteKey))
	}
	// Outside Middleware, or untraced, it does nothing.
	SetHTTPRoute(httptest.NewRequest("GET", "/", nil), "/x")
}

// The propagator sends the caller's own span context, replacing a
// traceparent the caller's metadata holds, with no span of its own.
func TestPropagator(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := recording(t, rec, "a")
	ctx, span := tp.Tracer("t").Start(context.Background(), "handler")
	defer span.End()
	want := "00-" + span.SpanContext().TraceID().String() + "-" + span.SpanContext().SpanID().String() + "-01"
	var sent metadata.MD
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		sent, _ = metadata.FromOutgoingContext(ctx)
		return nil
	}
	prop := UnaryClientPropagator()
	stale := metadata.AppendToOutgoingContext(ctx, "traceparent", "00-"+strings.Repeat("1", 32)+"-"+strings.Repeat("2", 16)+"-01")
	for _, c := range []context.Context{ctx, stale} {
		if err := prop(c, callMethod, nil, nil, nil, invoker); err != nil {
			t.Fatal(err)
		}
		if got := sent.Get("traceparent"); len(got) != 1 || got[0] != want {
			t.Errorf("propagator sent %q, want [%q]", got, want)
		}
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("the propagator made %d spans", n)
	}
}
