package bundle_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tremolo-dev/tremolo/platform/metrics/metricstest"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/platform/wasmchain"
	"github.com/tremolo-dev/tremolo/platform/wasmhost"
	"github.com/tremolo-dev/tremolo/wasm-plugins/plugintest"
)

// cacheDir is the compilation cache the chains of a test run share, so
// that each module is compiled once a run; it is removed afterwards (a
// cache kept across runs grew by every module ever built).
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tremolo-bundle-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := plugintest.Main(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// seen is what the handler behind a chain saw of one request, and what the
// client got.
type seen struct {
	passed  bool
	headers map[string]string // the request headers of interest, as next saw them
	status  int
	body    string
	respHdr map[string]string
}

var watched = []string{"X-Tremolo-User-Id", "X-Tremolo-Version", "X-Tremolo-Experiment", "X-Cell-ID", "X-Traffic-Tag"}

// serve sends r through h and records what happened.
func serve(h http.Handler, r *http.Request) seen {
	var s seen
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.passed = true
		s.headers = map[string]string{}
		for _, k := range watched {
			s.headers[k] = strings.Join(r.Header.Values(k), ",")
		}
		if n := len(r.Header.Values("X-Request-Id")); n != 1 {
			s.headers["X-Request-Id count"] = string(rune('0' + n))
		}
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nextKey{}, http.Handler(next))))
	s.status, s.body = w.Code, w.Body.String()
	s.respHdr = map[string]string{
		"Retry-After":  w.Header().Get("Retry-After"),
		"Content-Type": w.Header().Get("Content-Type"),
	}
	return s
}

type nextKey struct{}

// viaContext calls the handler serve put in the request's context, so one
// loaded chain serves every request of a test.
var viaContext = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	r.Context().Value(nextKey{}).(http.Handler).ServeHTTP(w, r)
})

// loadChain loads the chain file at path as the edge does.
func loadChain(t *testing.T, path string, vars map[string]string) http.Handler {
	t.Helper()
	ctx := context.Background()
	rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeOptions{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	c, err := wasmchain.New(ctx, viaContext, wasmchain.Options{Path: path, Vars: vars, Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx) })
	return c
}

// TestSameAsModules runs the app's requests through the default chain as
// the edge loads it (its plugins bundled in one module) and through the same
// chain with each plugin a module of its own: both must do the same.
func TestSameAsModules(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	vars := map[string]string{"jwt_key_base64": base64.StdEncoding.EncodeToString(key)}
	bundled := plugintest.WriteChain(t, "../chain.yaml", nil)
	modules := plugintest.WithoutBundle(t, bundled)
	tok := sign(t, key, 42)
	forged := sign(t, []byte(strings.Repeat("x", 32)), 42)
	requests := []struct {
		name string
		make func() *http.Request
		pass bool
	}{
		{"public route, no token", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/douyin/feed/?latest_time=0&traffic_tag=shadow", nil)
		}, true},
		{"token in the query", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/douyin/favorite/list/?user_id=42&token="+tok, nil)
		}, true},
		{"token in a form", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/douyin/favorite/action/", strings.NewReader("video_id=1&action_type=1&token="+tok))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, true},
		{"a client's own user id is not trusted", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/douyin/feed/", nil)
			r.Header.Set("X-Tremolo-User-Id", "1")
			return r
		}, true},
		{"forged token", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/douyin/favorite/list/?user_id=42&token="+forged, nil)
		}, false},
		{"no token on a private route", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/douyin/relation/follow/list/?user_id=42", nil)
		}, false},
	}
	// Bots get 10 requests, then the rate limit's refusal (Retry-After).
	for i := range 12 {
		requests = append(requests, struct {
			name string
			make func() *http.Request
			pass bool
		}{"bot " + string(rune('a'+i)), func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/douyin/feed/", nil)
			r.Header.Set("User-Agent", "ExampleBot/1.0 (crawler)")
			return r
		}, i < 10})
	}

	hb, hm := loadChain(t, bundled, vars), loadChain(t, modules, vars)
	for _, c := range requests {
		b, m := serve(hb, c.make()), serve(hm, c.make())
		if b.passed != c.pass {
			t.Errorf("%s: bundled chain passed the request: %v, want %v (answer %d %s)", c.name, b.passed, c.pass, b.status, b.body)
		}
		if !equal(b, m) {
			t.Errorf("%s: the bundled chain and the chain of modules differ:\n bundled %+v\n modules %+v", c.name, b, m)
		}
	}
}

func equal(a, b seen) bool {
	if a.passed != b.passed || a.status != b.status || a.body != b.body || len(a.headers) != len(b.headers) {
		return false
	}
	for k, v := range a.headers {
		if b.headers[k] != v {
			return false
		}
	}
	for k, v := range a.respHdr {
		if b.respHdr[k] != v {
			return false
		}
	}
	return true
}

// sign returns the app's token for user with key, as the user service
// issues it.
func sign(t *testing.T, key []byte, user int64) string {
	t.Helper()
	signer, err := token.NewSigner(key, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Sign(user)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// faulty loads the test bundle of testdata/faulty (colour, then "fault",
// which sets X-Fault-Was-Here and panics on X-Panic) with fault's policy,
// and returns it in front of next, with the host's metrics.
func faulty(t *testing.T, tags, faultPolicy string, hostPolicy wasmhost.Policy, next http.Handler) (http.Handler, *prometheus.Registry, *[]error) {
	t.Helper()
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeOptions{Registerer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	config := `{"plugins": [
		{"name": "colour", "policy": "fail_open", "config": {"cells": 16}},
		{"name": "fault", "policy": "` + faultPolicy + `"}]}`
	p, err := rt.Load(ctx, wasmhost.PluginOptions{
		Name: "faulty", Wasm: plugintest.Package(t, "./wasm-plugins/bundle/testdata/faulty", tags),
		Config: []byte(config), Policy: hostPolicy, Trusted: true, Warm: 1, PoolSize: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(ctx) })
	var denied []error
	return p.Wrap(next, func(w http.ResponseWriter, r *http.Request, err error) {
		denied = append(denied, err)
		http.Error(w, "denied", http.StatusForbidden)
	}), reg, &denied
}

func faultyRequest(panic bool) *http.Request {
	return faultyRequestWith(panic, "1")
}

// faultyRequestWith is a POST with a body, and X-Panic: how when panic.
func faultyRequestWith(panic bool, how string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/douyin/comment/action/", strings.NewReader("the request body"))
	r.Header.Set("X-Tremolo-User-Id", "7")
	if panic {
		r.Header.Set("X-Panic", how)
	}
	return r
}

// TestFailOpenPluginSkipped: a fail_open plugin of a bundle that panics is
// skipped as if absent (nothing it set remains; the plugins before it still
// did their work, once), the failure is counted, and the instance that
// recovered is retired rather than pooled.
func TestFailOpenPluginSkipped(t *testing.T) {
	var got http.Header
	h, reg, denied := faulty(t, "tremolo", "fail_open", wasmhost.FailClosed, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
	}))
	for _, panics := range []bool{false, true, true, false} {
		got = nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, faultyRequest(panics))
		if got == nil {
			t.Fatalf("panic=%v: the request did not reach next (answer %d %q)", panics, w.Code, w.Body)
		}
		if want := ""; panics && (got.Get("X-Fault-Was-Here") != want || w.Header().Get("X-Fault-Was-Here") != want) {
			t.Errorf("panic=%v: the failed plugin's changes remained: request %q, response %q", panics, got.Get("X-Fault-Was-Here"), w.Header().Get("X-Fault-Was-Here"))
		}
		if !panics && got.Get("X-Fault-Was-Here") != "yes" {
			t.Errorf("panic=%v: fault did not run", panics)
		}
		if got.Get("X-Cell-ID") == "" || len(got.Values("X-Request-Id")) != 1 || len(w.Header().Values("X-Request-Id")) != 1 {
			t.Errorf("panic=%v: colour's work should be there once: cell %q, request ids %q, echoed %q",
				panics, got.Get("X-Cell-ID"), got.Values("X-Request-Id"), w.Header().Values("X-Request-Id"))
		}
	}
	if len(*denied) != 0 {
		t.Errorf("requests denied: %v", *denied)
	}
	if n := metricstest.Value(t, reg, "tremolo_wasm_plugin_counter_total", "name", "fault_failures"); n != 2 {
		t.Errorf("fault_failures = %v, want 2", n)
	}
	if n := metricstest.Value(t, reg, "tremolo_wasm_instances_discarded_total", "reason", "retired"); n != 2 {
		t.Errorf("instances retired = %v, want 2 (one per recovered panic)", n)
	}
}

// TestFailClosedPluginFailsTheBundle: a fail_closed plugin's panic fails the
// whole call, and the host's policy for the bundle decides; so does a
// fail_open one's in a portable build, whose host cannot undo its changes.
func TestFailClosedPluginFailsTheBundle(t *testing.T) {
	for _, c := range []struct{ name, tags, policy string }{
		{"fail_closed plugin", "tremolo", "fail_closed"},
		{"fail_open plugin, portable build", "", "fail_open"},
	} {
		t.Run(c.name, func(t *testing.T) {
			passed := false
			h, _, denied := faulty(t, c.tags, c.policy, wasmhost.FailClosed, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed = true }))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, faultyRequest(true))
			if passed || len(*denied) != 1 {
				t.Fatalf("passed %v, denials %v, answer %d %q: want the request denied once", passed, *denied, w.Code, w.Body)
			}
			var werr *wasmhost.Error
			if !errors.As((*denied)[0], &werr) || werr.Plugin != "faulty" {
				t.Errorf("denied with %v, want the bundle's failure", (*denied)[0])
			}
			h.ServeHTTP(httptest.NewRecorder(), faultyRequest(false))
			if !passed {
				t.Error("the next request, without X-Panic, did not pass")
			}
		})
	}
}

// TestFailOpenPluginBody: a fail_open plugin that read the body before it
// panicked is skipped, and the body reaches next whole; one that panicked
// inside Body, with the body half read, cannot be undone: the bundle fails
// and the host's policy applies, the body given back whole too.
func TestFailOpenPluginBody(t *testing.T) {
	var body string
	passed := false
	h, _, denied := faulty(t, "tremolo", "fail_open", wasmhost.FailOpen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		passed = true
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		body = string(b)
	}))
	for _, how := range []string{"after-body", "in-body"} {
		passed, body = false, ""
		h.ServeHTTP(httptest.NewRecorder(), faultyRequestWith(true, how))
		if !passed || body != "the request body" {
			t.Errorf("X-Panic: %s: next ran %v with body %q, want the whole body", how, passed, body)
		}
	}
	if len(*denied) != 0 {
		t.Errorf("denied %v with the bundle fail_open", *denied)
	}
}

// A bundled plugin's bad config fails loading the bundle with an error
// that names the plugin and the field, not only in the host's log.
func TestBadConfigNamesThePlugin(t *testing.T) {
	_, err := plugintest.WasmhostLoad(t, "bundle", plugintest.Wasm(t, "bundle", false),
		[]byte(`{"plugins": [{"name": "colour"}, {"name": "ratelimit", "config": {"tiers": {"normal": {"user": {"rate": -1}}}}}]}`))
	if err == nil || !strings.Contains(err.Error(), "plugins[1] (ratelimit)") {
		t.Fatalf("Load: %v; want an error naming plugins[1] (ratelimit)", err)
	}
}

// The portable build (no tremolo module) loads in http-wasm-host-go, the
// host library Traefik and Dapr embed, and does the chain's work there.
func TestPortableInHTTPWasmHost(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	tok := sign(t, key, 42)
	config := `{"plugins": [
		{"name": "jwt", "config": {"keys": [{"alg": "HS256", "key_base64": "` + base64.StdEncoding.EncodeToString(key) + `"}], "issuer": "tremolo", "public": ["/douyin/feed"]}},
		{"name": "colour", "policy": "fail_open", "config": {"cells": 16}}]}`
	var got http.Header
	h := plugintest.Handler(t, plugintest.Wasm(t, "bundle", true), []byte(config), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/douyin/favorite/list/?user_id=42&token="+tok, nil))
	if got == nil || got.Get("X-Tremolo-User-Id") != "42" || got.Get("X-Cell-ID") == "" {
		t.Fatalf("a signed-in request: next saw %v (answer %d %q); want the user id and a cell", got, w.Code, w.Body)
	}
	got = nil
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/douyin/favorite/list/?user_id=42", nil))
	if got != nil || !strings.Contains(w.Body.String(), `"status_code":10002`) {
		t.Fatalf("no token on a private route: passed %v, answer %d %q; want the envelope 10002", got != nil, w.Code, w.Body)
	}
}

// TestHeadersSetInGuest runs testdata/headers in Tremolo's host: a guest
// reads back the request headers it set exactly as the host holds them:
// names in any case, after a removal or an addition in another case, a
// value set twice or from a buffer the guest then changed, many headers,
// and a request undone for a fail_open plugin that panicked (what it set
// is gone for the plugins run after the undo).
func TestHeadersSetInGuest(t *testing.T) {
	ctx := context.Background()
	rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	p, err := rt.Load(ctx, wasmhost.PluginOptions{
		Name: "headers", Wasm: plugintest.Package(t, "./wasm-plugins/bundle/testdata/headers", "tremolo"),
		Config:  []byte(`{"plugins": [{"name": "panicky", "policy": "fail_open"}, {"name": "script"}, {"name": "reader"}]}`),
		Trusted: true, Warm: 1, PoolSize: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(ctx) })
	var report string
	h := p.Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		report = r.Header.Get("X-Report")
	}), nil)

	const script = "1|absent|2|3|4|4,5|6|ok|client|plugin"
	for _, tc := range []struct {
		panic bool
		want  string
	}{
		{false, script + "|u=from-panicky"},
		{true, script + "|u=absent"}, // panicky's X-U undone, and forgotten
	} {
		report = ""
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-F", "client")
		if tc.panic {
			r.Header.Set("X-Panic", "1")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || report != tc.want {
			t.Errorf("panic=%v: status %d, X-Report %q\nwant %q", tc.panic, w.Code, report, tc.want)
		}
	}
}
