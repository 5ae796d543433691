package wasmhost

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/ratelimit"
)

func TestPassthrough(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "passthrough", PluginOptions{Config: []byte("from-config")})
	w := do(p.Wrap(upstream(), denied), "GET", "/feed?count=2", "")
	if w.Code != 200 || w.Body.String() != "upstream GET /feed?count=2 plugin=from-config body=" {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
	if w.Header().Get("X-Plugin-Seen") != "1" || w.Header().Get("X-Upstream") != "1" {
		t.Fatalf("response headers %v", w.Header())
	}
	if got := h.counter("tremolo_wasm_calls_total", "plugin", "passthrough", "phase", "request"); got != 1 {
		t.Fatalf("calls{request} = %v, want 1", got)
	}
	if got := h.counter("tremolo_wasm_calls_total", "plugin", "passthrough", "phase", "response"); got != 1 {
		t.Fatalf("calls{response} = %v, want 1", got)
	}
	if p.WarmUp() <= 0 || h.counter("tremolo_wasm_warmup_seconds", "plugin", "passthrough") <= 0 {
		t.Fatalf("warm-up not reported: %v", p.WarmUp())
	}
}

func TestAnswer(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "answer", PluginOptions{Config: []byte(`{"k":1}`)})
	called := false
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
	w := do(p.Wrap(next, denied), "POST", "http://example.test/a/b%20c?x=1", "hello", "X-Name", "v")
	want := `method=POST uri=/a/b%20c?x=1 proto=HTTP/1.1 addr=192.0.2.1:1234 host=example.test names=host,x-name body=hello config={"k":1}`
	if w.Code != 203 || w.Body.String() != want || w.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("got %d %v %q\nwant 203 %q", w.Code, w.Header(), w.Body, want)
	}
	if called {
		t.Fatal("next was called although the guest answered (next=0)")
	}
	if !strings.Contains(h.log.String(), "answering /a/b%20c?x=1") {
		t.Fatalf("the guest's log call is not in the log:\n%s", h.log)
	}
}

// TestURI checks get_uri on the forms of request target the path and
// query are written for: no query, an empty one ("?"), and one longer than
// the guest's first buffer (it asks again with the length returned).
func TestURI(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "answer", PluginOptions{})
	long := "/q?token=" + strings.Repeat("x", 3000)
	for _, uri := range []string{"/", "/a/b", "/p?", "/a/b%20c?x=1&y=%2F", long} {
		w := do(p.Wrap(http.NotFoundHandler(), denied), "GET", "http://example.test"+uri, "")
		if !strings.Contains(w.Body.String(), " uri="+uri+" ") {
			t.Errorf("get_uri of %.40q: the guest saw %.80q", uri, w.Body)
		}
	}
}

func TestRewriteRequest(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "answer", PluginOptions{})
	var (
		got    http.Header
		length int64
	)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, length = r.Header.Clone(), r.ContentLength
		upstream().ServeHTTP(w, r)
	})
	r := httptest.NewRequest("POST", "/orig", strings.NewReader("body!"))
	r.Header.Set("X-Rewrite", "1")
	r.Header.Set("Content-Length", "5")
	w := httptest.NewRecorder()
	p.Wrap(next, denied).ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "upstream PUT /rewritten?q=1 plugin= body=rewritten:body!" {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
	if got.Get("X-Rewritten") != "yes" || length != int64(len("rewritten:body!")) || got.Get("Content-Length") != "" {
		t.Fatalf("next got headers %v, length %d", got, length)
	}
	// Handlers around the plugin see the request as it came.
	if r.Method != "POST" || r.URL.Path != "/orig" || r.Header.Get("X-Rewritten") != "" || r.Header.Get("X-Rewrite") != "1" || r.Header.Get("Content-Length") != "5" {
		t.Fatalf("after the plugin the request is %s %s %v; want it unchanged", r.Method, r.URL, r.Header)
	}
}

func TestBufferResponse(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "answer", PluginOptions{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "1")
		w.WriteHeader(201)
		w.Write([]byte("made by upstream"))
	})
	w := do(p.Wrap(next, denied), "GET", "/", "", "X-Buffer", "1")
	if w.Code != 202 || w.Body.String() != "MADE BY UPSTREAM" || w.Header().Get("X-Upstream-Len") != "16" || w.Header().Get("X-Upstream") != "1" {
		t.Fatalf("got %d %v %q", w.Code, w.Header(), w.Body)
	}
}

// TestNextPanics: handle_response learns of a panic in next (is_error=1)
// and the panic goes on to the server.
func TestNextPanics(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "answer", PluginOptions{})
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
		if got := h.counter("tremolo_wasm_calls_total", "plugin", "answer", "phase", "response"); got != 1 {
			t.Fatalf("handle_response calls = %v, want 1", got)
		}
	}()
	do(p.Wrap(next, denied), "GET", "/", "", "X-Buffer", "1")
}

func TestTrapIsDiscarded(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "panic", PluginOptions{PoolSize: 1, Warm: 1})
	handler := p.Wrap(upstream(), denied)
	for i := range 3 {
		w := do(handler, "GET", "/", "", "X-Panic", "1")
		if w.Code != 403 || w.Header().Get("X-Denied") != "trap" {
			t.Fatalf("panic %d: got %d %v %q", i, w.Code, w.Header(), w.Body)
		}
		if strings.Contains(w.Body.String(), "SECRET") {
			t.Fatalf("guest text reached the client: %q", w.Body)
		}
		// The trapped instance is gone: the next request gets a fresh one.
		if w := do(handler, "GET", "/", ""); w.Code != 200 || w.Body.String() != "upstream GET / plugin=panic body=" {
			t.Fatalf("after panic %d: got %d %q", i, w.Code, w.Body)
		}
	}
	if got := h.counter("tremolo_wasm_failures_total", "plugin", "panic", "kind", "trap"); got != 3 {
		t.Fatalf("failures{trap} = %v, want 3", got)
	}
	if got := h.counter("tremolo_wasm_instances_discarded_total", "plugin", "panic", "reason", "failure"); got != 3 {
		t.Fatalf("discarded{failure} = %v, want 3", got)
	}
	if !strings.Contains(h.log.String(), "SECRET-GUEST-TEXT: panic on purpose") {
		t.Fatalf("the guest's panic is not in the log:\n%s", h.log)
	}
}

func TestFailOpen(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "panic", PluginOptions{Policy: FailOpen})
	// The guest sets X-Plugin and removes X-Panic before it panics: next
	// gets the request as it came.
	var panicHeader string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panicHeader = r.Header.Get("X-Panic")
		upstream().ServeHTTP(w, r)
	})
	w := do(p.Wrap(next, denied), "POST", "/x", "intact", "X-Panic", "1")
	if w.Code != 200 || w.Body.String() != "upstream POST /x plugin= body=intact" || panicHeader != "1" {
		t.Fatalf("got %d %q, X-Panic %q", w.Code, w.Body, panicHeader)
	}
}

func TestLoopTimesOut(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	budget := 50 * time.Millisecond
	p := h.load(t, "loop", PluginOptions{Budget: budget, PoolSize: 2})
	handler := p.Wrap(upstream(), denied)
	for range 2 {
		start := time.Now()
		w := do(handler, "GET", "/", "", "X-Loop", "1")
		if d := time.Since(start); d > budget+500*time.Millisecond {
			t.Fatalf("a looping guest held the request for %v (budget %v)", d, budget)
		}
		if w.Code != 403 || w.Header().Get("X-Denied") != "timeout" {
			t.Fatalf("got %d %v %q", w.Code, w.Header(), w.Body)
		}
		if w := do(handler, "GET", "/", ""); w.Code != 200 {
			t.Fatalf("after a timeout: %d %q", w.Code, w.Body)
		}
	}
	if got := h.counter("tremolo_wasm_failures_total", "plugin", "loop", "kind", "timeout"); got != 2 {
		t.Fatalf("failures{timeout} = %v, want 2", got)
	}
}

func TestTrusted(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "passthrough", PluginOptions{Trusted: true})
	if w := do(p.Wrap(upstream(), denied), "GET", "/", ""); w.Code != 200 || !strings.Contains(w.Body.String(), "plugin=passthrough") {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
}

func TestMemoryCap(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	const pages = 512 // 32 MiB
	p := h.load(t, "alloc", PluginOptions{MemoryLimitPages: pages, Budget: 5 * time.Second})
	handler := p.Wrap(upstream(), denied)
	w := do(handler, "GET", "/", "", "X-Alloc", "1")
	if w.Code != 403 || w.Header().Get("X-Denied") != "memory" {
		t.Fatalf("got %d %v %q", w.Code, w.Header(), w.Body)
	}
	if w := do(handler, "GET", "/", ""); w.Code != 200 {
		t.Fatalf("after running out of memory: %d %q", w.Code, w.Body)
	}
	if got := h.counter("tremolo_wasm_failures_total", "plugin", "alloc", "kind", "memory"); got != 1 {
		t.Fatalf("failures{memory} = %v, want 1", got)
	}
}

func TestRecycle(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "alloc", PluginOptions{Name: "calls", PoolSize: 1, Warm: 1, MaxCalls: 3})
	handler := p.Wrap(upstream(), denied)
	for range 7 {
		if w := do(handler, "GET", "/", ""); w.Code != 200 {
			t.Fatalf("got %d %q", w.Code, w.Body)
		}
	}
	if got := h.counter("tremolo_wasm_instances_discarded_total", "plugin", "calls", "reason", "max_calls"); got != 2 {
		t.Fatalf("discarded{max_calls} after 7 calls = %v, want 2", got)
	}

	p = h.load(t, "alloc", PluginOptions{Name: "mem", PoolSize: 1, Warm: 1, RecycleAboveBytes: 16 << 20, Budget: 5 * time.Second})
	handler = p.Wrap(upstream(), denied)
	if w := do(handler, "GET", "/", "", "X-Grow", "24"); w.Code != 200 {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
	if got := h.counter("tremolo_wasm_instances_discarded_total", "plugin", "mem", "reason", "memory"); got != 1 {
		t.Fatalf("discarded{memory} after growing 24 MiB past a 16 MiB threshold = %v, want 1", got)
	}
}

func TestGarbage(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "garbage", PluginOptions{})
	handler := p.Wrap(upstream(), denied)
	modes := []string{"ptr", "len", "wrap", "kind", "next", "status", "name", "value", "level", "body", "bodykind", "uri"}
	for _, mode := range modes {
		w := do(handler, "GET", "/", "", "X-Garbage", mode)
		if w.Code != 403 || w.Header().Get("X-Denied") != "abi" {
			t.Errorf("%s: got %d %v %q", mode, w.Code, w.Header(), w.Body)
		}
		if w.Header().Get("X-Injected") != "" || w.Header().Get("X-Ok") != "" {
			t.Errorf("%s: a failed call's header reached the client: %v", mode, w.Header())
		}
	}
	if w := do(handler, "GET", "/", "", "X-Garbage", "null"); w.Code != 200 {
		t.Errorf("null: got %d %q", w.Code, w.Body)
	}
	// After next the response is already sent: the failure is counted and
	// the client keeps upstream's response.
	if w := do(handler, "GET", "/", "", "X-Garbage", "response"); w.Code != 200 || w.Body.String() != "upstream GET / plugin=garbage body=" {
		t.Errorf("response: got %d %q", w.Code, w.Body)
	}
	if got, want := h.counter("tremolo_wasm_failures_total", "plugin", "garbage", "kind", "abi"), float64(len(modes)+1); got != want {
		t.Errorf("failures{abi} = %v, want %v", got, want)
	}
	if w := do(handler, "GET", "/", ""); w.Code != 200 {
		t.Fatalf("after garbage: %d %q", w.Code, w.Body)
	}
}

func TestNotAPlugin(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	notWasm, err := os.ReadFile("testdata/notwasm.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"text", notWasm, "compile"},
		{"empty-module", []byte("\x00asm\x01\x00\x00\x00"), "does not export handle_request"},
	} {
		_, err := h.rt.Load(context.Background(), PluginOptions{Name: tc.name, Wasm: tc.wasm})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("Load(%s) = %v, want an error naming the plugin and %q", tc.name, err, tc.want)
		}
	}
	if _, err := h.rt.Load(context.Background(), PluginOptions{Name: "Bad Name", Wasm: guest(t, "passthrough")}); err == nil {
		t.Error("Load accepted an invalid name")
	}
	// A new version of a loaded plugin loads beside it (a chain reload);
	// closing the old one leaves the new one serving.
	old, err := h.rt.Load(context.Background(), PluginOptions{Name: "passthrough", Wasm: guest(t, "passthrough")})
	if err != nil {
		t.Fatal(err)
	}
	replacement, err := h.rt.Load(context.Background(), PluginOptions{Name: "passthrough", Wasm: guest(t, "passthrough")})
	if err != nil {
		t.Fatalf("a new version of a loaded plugin: %v", err)
	}
	if err := old.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	replacement.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }), nil).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Body.String() != "ok" {
		t.Errorf("the replacement after the old version closed answered %d %q", rec.Code, rec.Body.String())
	}
	_ = replacement.Close(context.Background())
	if _, err := h.rt.Load(context.Background(), PluginOptions{Name: "small", Wasm: guest(t, "passthrough"), MemoryLimitPages: 1}); err == nil {
		t.Error("Load accepted a memory limit the module's own minimum exceeds")
	} else {
		t.Logf("1-page limit: %v", err)
	}
}

// failingStore is a bucket store that is always down.
type failingStore struct{}

func (failingStore) Take(context.Context, string, float64, int, int) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("store down")
}

func TestTremoloModule(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	secret := "s3cret"
	p := h.load(t, "tremolo", PluginOptions{Config: []byte(secret)})
	handler := p.Wrap(upstream(), denied)
	sign := func(msg string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(msg))
		return hex.EncodeToString(m.Sum(nil))
	}
	if w := do(handler, "GET", "/", "", "X-Msg", "hello", "X-Sig", sign("hullo")); w.Code != 401 || w.Body.String() != "bad signature 0" {
		t.Fatalf("wrong signature: %d %q", w.Code, w.Body)
	}
	for i := 2; i >= 0; i-- {
		w := do(handler, "GET", "/", "", "X-Msg", "hello", "X-Sig", sign("hello"))
		if w.Code != 200 {
			t.Fatalf("good signature: %d %q", w.Code, w.Body)
		}
	}
	w := do(handler, "GET", "/", "", "X-Msg", "hello", "X-Sig", sign("hello"))
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("4th request in a second: %d %v %q", w.Code, w.Header(), w.Body)
	}
	if got := h.counter("tremolo_wasm_plugin_counter_total", "plugin", "tremolo", "name", "requests_seen"); got != 3 {
		t.Fatalf("counter requests_seen = %v, want 3", got)
	}
	for alg, want := range map[string]string{"9": "-1", "2": "-2", "3": "-2", "1": "1"} {
		if w := do(handler, "GET", "/", "", "X-Key-Alg", alg); w.Body.String() != want {
			t.Errorf("key_register(alg %s, %q) = %q, want %s", alg, secret, w.Body, want)
		}
	}
}

func TestBucketStoreDown(t *testing.T) {
	h := newHost(t, RuntimeOptions{Buckets: failingStore{}})
	p := h.load(t, "tremolo", PluginOptions{Config: []byte("k")})
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte("x"))
	sig := hex.EncodeToString(m.Sum(nil))
	for range 5 {
		if w := do(p.Wrap(upstream(), denied), "GET", "/", "", "X-Msg", "x", "X-Sig", sig); w.Code != 200 {
			t.Fatalf("with the bucket store down: %d %q", w.Code, w.Body)
		}
	}
	if got := h.counter("tremolo_wasm_bucket_errors_total", "plugin", "tremolo"); got != 5 {
		t.Fatalf("bucket errors = %v, want 5", got)
	}
	if n := strings.Count(h.log.String(), "bucket store failed"); n != 1 {
		t.Fatalf("%d log lines for 5 store failures in a second, want 1", n)
	}
}

// hangingStore is a bucket store behind a dead network: it answers when
// the context ends.
type hangingStore struct{}

func (hangingStore) Take(ctx context.Context, _ string, _ float64, _, _ int) (ratelimit.Result, error) {
	<-ctx.Done()
	return ratelimit.Result{}, ctx.Err()
}

// TestBucketStoreHangs: a store that does not answer costs half the call's
// budget and lets the request through, instead of timing the plugin out.
func TestBucketStoreHangs(t *testing.T) {
	h := newHost(t, RuntimeOptions{Buckets: hangingStore{}})
	p := h.load(t, "tremolo", PluginOptions{Config: []byte("k"), Budget: 400 * time.Millisecond})
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte("x"))
	start := time.Now()
	w := do(p.Wrap(upstream(), denied), "GET", "/", "", "X-Msg", "x", "X-Sig", hex.EncodeToString(m.Sum(nil)))
	if w.Code != 200 {
		t.Fatalf("status %d %q", w.Code, w.Body)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 400*time.Millisecond {
		t.Fatalf("took %v, want about half the 400ms budget", d)
	}
	if got := h.counter("tremolo_wasm_bucket_errors_total", "plugin", "tremolo"); got != 1 {
		t.Fatalf("bucket errors = %v", got)
	}
}

// TestUndoRequest: tremolo.undo_request puts back what the guest changed
// before it (headers, URI, the staged response) but not a body it wrote,
// and what it changes after stays; tremolo.retire discards the instance
// when its request ends.
func TestUndoRequest(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "undo", PluginOptions{PoolSize: 1})
	// The plugin's changes are undone once the request is through (see
	// exchange), so next's view is copied while it runs.
	var seen http.Header
	handler := p.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		upstream().ServeHTTP(w, r)
	}), denied)

	w := do(handler, "GET", "/orig?q=1", "the body", "X-Keep", "kept")
	if w.Code != 200 || w.Header().Get("X-Staged") != "" || !strings.HasPrefix(w.Body.String(), "upstream GET /orig?q=1 ") {
		t.Errorf("answer %d %v %q: the staged response or the URI change survived the undo", w.Code, w.Header(), w.Body)
	}
	if !strings.HasSuffix(w.Body.String(), "body=the body") {
		t.Errorf("answer %q: the body did not reach next whole", w.Body)
	}
	if seen.Get("X-Keep") != "kept" || seen.Get("X-Changed") != "" || seen.Get("X-After") != "1" {
		t.Errorf("next saw X-Keep %q, X-Changed %q, X-After %q: want kept, none, 1 (the change after the undo)",
			seen.Get("X-Keep"), seen.Get("X-Changed"), seen.Get("X-After"))
	}
	if w := do(handler, "GET", "/orig", "", "X-Write-Body", "1"); !strings.HasSuffix(w.Body.String(), "body=written") {
		t.Errorf("answer %q: the body the guest wrote before the undo is gone", w.Body)
	}
	if got := h.counter("tremolo_wasm_instances_discarded_total", "plugin", "undo", "reason", "retired"); got != 0 {
		t.Fatalf("%v instances retired before any asked", got)
	}
	for i := 1; i <= 2; i++ {
		if w := do(handler, "GET", "/", "", "X-Retire", "1"); w.Code != 200 {
			t.Fatalf("retiring request %d: %d %q", i, w.Code, w.Body)
		}
		if got := h.counter("tremolo_wasm_instances_discarded_total", "plugin", "undo", "reason", "retired"); got != float64(i) {
			t.Fatalf("after %d retiring requests, %v instances retired", i, got)
		}
	}
}
