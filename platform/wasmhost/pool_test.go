package wasmhost

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoolBoundUnderLoad serves many concurrent requests through a plugin
// whose instances are held across a slow next handler (the guest exports
// handle_response): no more than PoolSize instances ever exist, requests
// wait for one instead of failing, and every request is answered.
func TestPoolBoundUnderLoad(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	const size = 3
	p := h.load(t, "passthrough", PluginOptions{PoolSize: size, Warm: 1, MaxCalls: 7})
	var inFlight, peak atomic.Int32
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		if live := len(p.pool.slots); live > size {
			t.Errorf("%d live instances, PoolSize %d", live, size)
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		upstream().ServeHTTP(w, r)
	})
	handler := p.Wrap(next, denied)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 16 {
		wg.Go(func() {
			for range 15 {
				if w := do(handler, "GET", "/", ""); w.Code != 200 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of 240 requests failed", n)
	}
	if peak.Load() > size {
		t.Fatalf("%d requests in next at once, PoolSize %d", peak.Load(), size)
	}
	if h.counter("tremolo_wasm_pool_waits_total", "plugin", "passthrough") == 0 {
		t.Fatal("no pool waits counted with 16 clients and 3 instances")
	}
	created := h.counter("tremolo_wasm_instances_created_total", "plugin", "passthrough")
	discarded := h.counter("tremolo_wasm_instances_discarded_total", "plugin", "passthrough", "reason", "max_calls")
	// 240 requests are 480 calls (handle_request and handle_response); an
	// instance is recycled at the release after its 7th call, its 8th.
	if discarded < 480/8-size || created-discarded > size {
		t.Fatalf("created %v, discarded after 7 calls %v: recycling or the bound is off", created, discarded)
	}
}

func TestPoolBusy(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "passthrough", PluginOptions{PoolSize: 1, PoolWait: 20 * time.Millisecond})
	release := make(chan struct{})
	entered := make(chan struct{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
	})
	handler := p.Wrap(next, denied)
	done := make(chan struct{})
	go func() { do(handler, "GET", "/slow", ""); close(done) }()
	<-entered
	w := do(handler, "GET", "/", "")
	close(release)
	<-done
	if w.Code != 403 || w.Header().Get("X-Denied") != "busy" {
		t.Fatalf("with the only instance in use: %d %v", w.Code, w.Header())
	}
	if got := h.counter("tremolo_wasm_failures_total", "plugin", "passthrough", "kind", "busy"); got != 1 {
		t.Fatalf("failures{busy} = %v", got)
	}
}

func TestStderrBounded(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "panic", PluginOptions{StderrLimit: 1000, Budget: 5 * time.Second})
	w := do(p.Wrap(upstream(), denied), "GET", "/", "", "X-Noise", "1")
	if w.Code != 200 || strings.Contains(w.Body.String(), "SECRET") {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
	log := h.log.String()
	if !strings.Contains(log, "stream=stderr") || !strings.Contains(log, "stream=stdout") || !strings.Contains(log, "dropped_bytes=") {
		t.Fatalf("output not logged:\n%.2000s", log)
	}
	// A megabyte printed on each stream; the log keeps 1000 bytes of each.
	if len(log) > 8000 {
		t.Fatalf("log of %d bytes for a StderrLimit of 1000", len(log))
	}
}

func TestClose(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "passthrough", PluginOptions{})
	handler := p.Wrap(upstream(), denied)
	if w := do(handler, "GET", "/", ""); w.Code != 200 {
		t.Fatalf("got %d", w.Code)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w := do(handler, "GET", "/", ""); w.Code != 403 || w.Header().Get("X-Denied") != "closed" {
		t.Fatalf("after Close: %d %v", w.Code, w.Header())
	}
	// The name is free again, and the series start from zero.
	p = h.load(t, "passthrough", PluginOptions{Policy: FailOpen})
	if got := h.counter("tremolo_wasm_calls_total", "plugin", "passthrough", "phase", "request"); got != 0 {
		t.Fatalf("calls after reload = %v", got)
	}
	if err := h.rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w := do(p.Wrap(upstream(), denied), "GET", "/", ""); w.Code != 200 || !strings.Contains(w.Body.String(), "plugin= ") {
		t.Fatalf("fail-open plugin after Runtime.Close: %d %q", w.Code, w.Body)
	}
	if _, err := h.rt.Load(context.Background(), PluginOptions{Name: "late", Wasm: guest(t, "passthrough")}); err != ErrClosed {
		t.Fatalf("Load after Close: %v", err)
	}
}

func TestChainOrder(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	a := h.load(t, "passthrough", PluginOptions{Name: "a", Config: []byte("a")})
	b := h.load(t, "passthrough", PluginOptions{Name: "b", Config: []byte("b")})
	w := do(Chain(upstream(), denied, a, b), "GET", "/", "")
	// b runs last, so its value of X-Plugin is the one upstream sees.
	if w.Code != 200 || !strings.Contains(w.Body.String(), "plugin=b ") {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
}

func TestCompilationCacheDir(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		h := newHost(t, RuntimeOptions{CacheDir: dir})
		start := time.Now()
		h.load(t, "passthrough", PluginOptions{Warm: 1})
		t.Logf("load %d: %v", i, time.Since(start))
		h.rt.Close(context.Background())
	}
}

// TestSkipResponse: a guest that enables skip_response frees its instance
// during next, so one instance serves concurrent slow requests.
func TestSkipResponse(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "passthrough", PluginOptions{Config: []byte("skip"), PoolSize: 1, PoolWait: time.Second})
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		upstream().ServeHTTP(w, r)
	})
	handler := p.Wrap(next, denied)
	var wg sync.WaitGroup
	codes := make(chan int, 4)
	for range 4 {
		wg.Go(func() { codes <- do(handler, "GET", "/", "").Code })
	}
	for range 4 {
		<-entered // all four are in next at once, on one instance
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("status %d", c)
		}
	}
	if got := h.counter("tremolo_wasm_calls_total", "plugin", "passthrough", "phase", "response"); got != 0 {
		t.Fatalf("handle_response called %v times", got)
	}
}

// Idle instances are reused last in, first out: requests one after the
// other all run on the same, warm, instance instead of cycling through the
// pool; and a request waiting for a busy pool is handed the instance that
// comes back.
func TestPoolReusesTheHottestInstance(t *testing.T) {
	h := newHost(t, RuntimeOptions{})
	p := h.load(t, "passthrough", PluginOptions{Config: []byte("skip"), PoolSize: 3, Warm: 3, MaxCalls: -1})
	handler := p.Wrap(upstream(), denied)
	for range 10 {
		if c := do(handler, "GET", "/", "").Code; c != 200 {
			t.Fatalf("status %d", c)
		}
	}
	p.pool.mu.Lock()
	var calls []int
	for _, inst := range p.pool.hot {
		calls = append(calls, inst.calls)
	}
	p.pool.mu.Unlock()
	slices.Sort(calls)
	if !slices.Equal(calls, []int{0, 0, 10}) {
		t.Fatalf("calls per idle instance %v, want [0 0 10]: one hot instance", calls)
	}

	// A busy pool: the waiter gets the instance released to it.
	one := h.load(t, "passthrough", PluginOptions{Name: "one", PoolSize: 1, Warm: 1, PoolWait: 5 * time.Second})
	release := make(chan struct{})
	entered := make(chan struct{})
	slow := one.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			close(entered)
			<-release
		}
		upstream().ServeHTTP(w, r)
	}), denied)
	held := make(chan int)
	go func() { held <- do(slow, "GET", "/hold", "").Code }()
	<-entered // the only instance is held (handle_response pending)
	waited := make(chan int)
	go func() { waited <- do(slow, "GET", "/", "").Code }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if c1, c2 := <-held, <-waited; c1 != 200 || c2 != 200 {
		t.Fatalf("statuses %d and %d", c1, c2)
	}
}
