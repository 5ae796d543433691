// Package nethttp runs edge plugins written with the sdk package as plain
// net/http middleware, without WebAssembly.
//
// It serves two ends: plugin logic is unit tested natively (fast, with the
// race detector and fuzzing), and the edge's benchmarks compare each
// WebAssembly plugin with the very same logic compiled natively, the
// "native Go middleware doing the same work" baseline.
//
// The adapter behaves like an http-wasm host: header changes a plugin makes
// are seen by the next handler, a plugin that returns false has written the
// response, and Request.Body leaves the body in place for the next handler.
package nethttp

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"sync"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

// Middleware builds the plugin f from its config bytes, as the WebAssembly
// glue does when the module is initialised, and returns it as middleware.
func Middleware(f sdk.Factory, config []byte) (func(http.Handler) http.Handler, error) {
	h, err := f(config)
	if err != nil {
		return nil, fmt.Errorf("plugin initialisation failed: %w", err)
	}
	if h == nil {
		return nil, fmt.Errorf("plugin initialisation failed: the plugin's Factory returned no Handler")
	}
	return func(next http.Handler) http.Handler { return Wrap(h, next) }, nil
}

// Wrap returns next behind the plugin h. h is called concurrently.
func Wrap(h sdk.Handler, next http.Handler) http.Handler {
	a := &adapter{h: h, next: next}
	a.rh, _ = h.(sdk.ResponseHandler)
	return a
}

type adapter struct {
	h    sdk.Handler
	rh   sdk.ResponseHandler
	next http.Handler
}

// exchange is one request's state; request and response are its two views.
// They are pooled, so serving a request allocates nothing of the adapter's.
type exchange struct {
	w        http.ResponseWriter
	r        *http.Request
	body     []byte
	bodyErr  error
	bodyRead bool
	after    bool // the next handler ran
	status   int  // its status code, when after
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func (a *adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := exchanges.Get().(*exchange)
	*x = exchange{w: w, r: r}
	defer func() {
		*x = exchange{}
		exchanges.Put(x)
	}()
	if !a.h.HandleRequest((*request)(x), (*response)(x)) {
		return
	}
	if a.rh == nil {
		a.next.ServeHTTP(w, x.r)
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	a.next.ServeHTTP(rec, x.r)
	x.after, x.status = true, rec.status
	if x.status == 0 {
		x.status = http.StatusOK
	}
	a.rh.HandleResponse((*request)(x), (*response)(x), false)
}

// statusRecorder notes the status code for HandleResponse.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

type request exchange

func (q *request) Method() string { return q.r.Method }

func (q *request) URI() string {
	if q.r.URL.RawQuery == "" && !q.r.URL.ForceQuery {
		return q.Path()
	}
	return q.Path() + "?" + q.r.URL.RawQuery
}

func (q *request) Path() string {
	if p := q.r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

func (q *request) RawQuery() string { return q.r.URL.RawQuery }

// SetURI parses uri as the path and query of the request, as
// http-wasm-host-go does; an unparsable one panics like a host trap.
func (q *request) SetURI(uri string) {
	if uri == "" {
		uri = "/"
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		panic(fmt.Sprintf("nethttp: SetURI(%q): %v", uri, err))
	}
	q.r.RequestURI = uri
	q.r.URL.Path, q.r.URL.RawPath = u.Path, u.RawPath
	q.r.URL.RawQuery, q.r.URL.ForceQuery = u.RawQuery, u.ForceQuery
}

func (q *request) Protocol() string   { return q.r.Proto }
func (q *request) SourceAddr() string { return q.r.RemoteAddr }

func (q *request) Header(name string) (string, bool) {
	if isHost(name) {
		return q.r.Host, q.r.Host != ""
	}
	v := q.r.Header[textproto.CanonicalMIMEHeaderKey(name)]
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func (q *request) HeaderValues(name string) []string {
	if isHost(name) {
		return []string{q.r.Host}
	}
	return q.r.Header[textproto.CanonicalMIMEHeaderKey(name)]
}

// isHost reports whether name is "Host", which net/http keeps out of
// Header; hosts report it as a header, so the adapter does too.
func isHost(name string) bool {
	return len(name) == 4 && (name == "Host" || textproto.CanonicalMIMEHeaderKey(name) == "Host")
}

func (q *request) SetHeader(name, value string) { q.r.Header.Set(name, value) }
func (q *request) AddHeader(name, value string) { q.r.Header.Add(name, value) }
func (q *request) RemoveHeader(name string)     { q.r.Header.Del(name) }

func (q *request) Body(max int) ([]byte, error) {
	if q.bodyRead {
		return q.body, q.bodyErr
	}
	q.bodyRead = true
	orig := q.r.Body
	if orig == nil || orig == http.NoBody {
		return nil, nil
	}
	if max < 0 {
		max = 0
	}
	data, err := io.ReadAll(io.LimitReader(orig, int64(max)+1))
	switch {
	case err != nil:
		q.bodyErr = fmt.Errorf("nethttp: reading the request body: %w", err)
		q.r.Body = readCloser{io.MultiReader(bytes.NewReader(data), orig), orig}
	case len(data) > max:
		q.bodyErr = sdk.ErrBodyTooLarge
		q.r.Body = readCloser{io.MultiReader(bytes.NewReader(data), orig), orig}
	default:
		q.body = data
		q.r.Body = readCloser{bytes.NewReader(data), orig}
	}
	return q.body, q.bodyErr
}

type readCloser struct {
	io.Reader
	io.Closer
}

func (q *request) SetBody(body []byte) {
	q.r.Body = io.NopCloser(bytes.NewReader(body))
	q.r.ContentLength = int64(len(body))
}

type response exchange

func (p *response) StatusCode() int {
	if p.after {
		return p.status
	}
	return http.StatusOK
}

func (p *response) SetStatusCode(code int) { p.w.WriteHeader(code) }

func (p *response) Header(name string) (string, bool) {
	v := p.w.Header()[textproto.CanonicalMIMEHeaderKey(name)]
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func (p *response) SetHeader(name, value string) { p.w.Header().Set(name, value) }
func (p *response) AddHeader(name, value string) { p.w.Header().Add(name, value) }
func (p *response) RemoveHeader(name string)     { p.w.Header().Del(name) }
func (p *response) Write(body []byte)            { _, _ = p.w.Write(body) }
