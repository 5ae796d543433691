package tracing

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tremolo-dev/tremolo/platform/routing"
)

// Middleware gives each HTTP request a server span, for the edge: a child
// of the request's traceparent header when it has a valid one (an app that
// started the trace), otherwise the root of a new trace. The span is in the
// request's context, so the gRPC calls made for the request continue the
// trace, and the response's traceparent header names it, so an app can
// report the trace id of a failed request.
//
// The span is named "HTTP <method> <route>": the route SetHTTPRoute gave,
// or the pattern of the http.ServeMux that served the request when next is
// one (or is under one), else the path, cut to 256 bytes. A path is not a
// route: tell the middleware the route to keep span names few.
//
// Caveat for the edge: a client's sampled flag is followed like any
// caller's, so an app that always sends one is always sampled.
func Middleware(tp trace.TracerProvider, next http.Handler) http.Handler {
	tr := tp.Tracer(scopeName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The name is completed below for spans that record it: building it
		// costs an allocation the others need not pay.
		ctx, span := tr.Start(propagator.Extract(r.Context(), headerCarrier(r.Header)), "HTTP", serverKind...)
		propagator.Inject(ctx, responseCarrier(w.Header()))
		if !span.IsRecording() {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		st := &httpSpan{span: span, method: httpMethod(r.Method)}
		span.SetName("HTTP " + st.method + " " + route(r))
		r = r.WithContext(context.WithValue(ctx, httpSpanKey{}, st))
		sw := &statusWriter{ResponseWriter: w}
		done := false
		defer func() {
			if !done {
				endPanicked(span)
			}
		}()
		next.ServeHTTP(sw, r)
		done = true
		st.end(r, sw.status)
	})
}

// httpSpan is Middleware's span of a request, which SetHTTPRoute finds in
// the request's context (under any span started after it).
type httpSpan struct {
	span   trace.Span
	method string // normalized (httpMethod)
	route  string // SetHTTPRoute's
}

type httpSpanKey struct{}

// SetHTTPRoute names the HTTP server span of r's request after route, the
// pattern its router matched ("/v1/videos/{id}"), for routers that are not
// an http.ServeMux (Middleware reads a ServeMux's pattern itself; a route
// set here wins over it, as over the catch-all "/" of a mux in front of a
// gateway). With grpc-gateway, call it from a runtime.WithMiddlewares
// middleware with runtime.HTTPPathPattern(r.Context()). Without a route
// the span is named after the path: one name per video id. Call it from
// the request's handler, before it returns.
func SetHTTPRoute(r *http.Request, route string) {
	st, ok := r.Context().Value(httpSpanKey{}).(*httpSpan)
	if !ok || route == "" {
		return
	}
	st.route = clip(route)
	st.span.SetName("HTTP " + st.method + " " + st.route)
}

// end records what the request and its response were and ends the span.
// It runs after the handler, so it sees the route the mux matched and the
// routing headers the edge's plugins set.
func (st *httpSpan) end(r *http.Request, code int) {
	if code == 0 {
		code = http.StatusOK // nothing written: net/http sends 200
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(st.method),
		semconv.URLPath(clip(r.URL.Path)),
		semconv.HTTPResponseStatusCode(code),
	)
	if st.method == "_OTHER" {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(clip(r.Method)))
	}
	if r.TLS != nil {
		attrs = append(attrs, semconv.URLScheme("https"))
	} else {
		attrs = append(attrs, semconv.URLScheme("http"))
	}
	if st.route == "" {
		if p := pattern(r); p != "" {
			st.route = p
			st.span.SetName("HTTP " + st.method + " " + p)
		}
	}
	if st.route != "" {
		attrs = append(attrs, semconv.HTTPRoute(st.route))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(clip(ua)))
	}
	attrs = appendRouting(attrs, r.Header.Get(routing.TrafficTagHeader), r.Header.Get(routing.CellHeader))
	st.span.SetAttributes(attrs...)
	if code >= 500 {
		// 4xx is the client's doing, not the server's failure.
		st.span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(code)))
		st.span.SetStatus(otelcodes.Error, "")
	}
	st.span.End()
}

// route names a request before it is served: the mux pattern when an
// outer mux has matched one, else the path.
func route(r *http.Request) string {
	if p := pattern(r); p != "" {
		return p
	}
	return clip(r.URL.Path)
}

// pattern is r.Pattern without the method and host a ServeMux pattern may
// start with ("GET example.com/v1/users/{id}" is "/v1/users/{id}").
func pattern(r *http.Request) string {
	p := r.Pattern
	if i := strings.IndexByte(p, '/'); i > 0 {
		p = p[i:]
	}
	return p
}

// clip bounds a caller-supplied value.
func clip(s string) string {
	if len(s) > maxAttrLen {
		return s[:maxAttrLen]
	}
	return s
}

// httpMethod keeps span names and attributes to the known methods: any
// other string a client sends is "_OTHER", as the conventions ask.
func httpMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodHead, http.MethodOptions,
		http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// statusWriter remembers the response's status code. It flushes (the
// gateway's streaming responses require http.Flusher) and unwraps, so
// http.ResponseController reaches the connection's other features.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
