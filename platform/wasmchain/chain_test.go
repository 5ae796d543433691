package wasmchain_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tremolo-dev/tremolo/platform/metrics/metricstest"
	"github.com/tremolo-dev/tremolo/platform/wasmchain"
	"github.com/tremolo-dev/tremolo/platform/wasmhost"
	"github.com/tremolo-dev/tremolo/platform/wasmhost/wasmhosttest"
)

// seen is the next handler: it answers with the X-Plugin header the
// passthrough guests set (each sets it to its config), after waiting for
// hold when the request asks to.
type seen struct{ hold chan struct{} }

func (s seen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Hold") != "" {
		<-s.hold
	}
	_, _ = w.Write([]byte(r.Header.Get("X-Plugin")))
}

// chainDir writes the passthrough guest and a chain file of plugins named
// by names, each configured with its own name.
func chainDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "passthrough.wasm"), wasmhosttest.Guest(t, "passthrough"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeChain(t *testing.T, dir string, names ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("plugins:\n")
	for _, n := range names {
		b.WriteString("  - {name: " + n + ", wasm: passthrough.wasm, trusted: true, config: " + n + "}\n")
	}
	path := filepath.Join(dir, "chain.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// A file rewritten within the same clock tick must still look changed.
	later := time.Now().Add(time.Duration(len(names)) * time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	return path
}

func newChain(t *testing.T, path string, next http.Handler) (*wasmchain.Chain, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	rt, err := wasmhost.NewRuntime(context.Background(), wasmhost.RuntimeOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	c, err := wasmchain.New(context.Background(), next, wasmchain.Options{Path: path, Runtime: rt, Registerer: reg, Poll: 20 * time.Millisecond, Drain: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, reg
}

func get(h http.Handler, header ...string) string {
	r := httptest.NewRequest("GET", "/", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Body.String()
}

func TestChainRunsPluginsInOrder(t *testing.T) {
	dir := chainDir(t)
	c, _ := newChain(t, writeChain(t, dir, "one", "two"), seen{})
	if got := get(c); got != `"two"` {
		t.Fatalf("next saw X-Plugin %s, want the last plugin's", got)
	}
	if got := strings.Join(c.Plugins(), ","); got != "one,two" {
		t.Fatalf("Plugins() = %s", got)
	}
}

// A reload swaps the chain for new requests while a request inside the old
// one finishes there; an unchanged file is not loaded again.
func TestChainReload(t *testing.T) {
	dir := chainDir(t)
	path := writeChain(t, dir, "old")
	next := seen{hold: make(chan struct{})}
	c, reg := newChain(t, path, next)
	if ok, err := c.Reload(context.Background()); ok || err != nil {
		t.Fatalf("Reload of an unchanged file = %v, %v; want false, nil", ok, err)
	}

	inside := make(chan string)
	go func() { inside <- get(c, "X-Hold", "1") }()
	time.Sleep(50 * time.Millisecond) // let it enter the old chain

	writeChain(t, dir, "new", "newer")
	if ok, err := c.Reload(context.Background()); !ok || err != nil {
		t.Fatalf("Reload of a changed file = %v, %v", ok, err)
	}
	if got := get(c); got != `"newer"` {
		t.Fatalf("after the reload next saw %s", got)
	}
	close(next.hold)
	if got := <-inside; got != `"old"` {
		t.Fatalf("the request inside the old chain saw %s, want the old plugin's", got)
	}
	if n := metricstest.Value(t, reg, "tremolo_wasm_chain_generation"); n != 2 {
		t.Fatalf("generation %v, want 2", n)
	}
}

// A file that does not load leaves the running chain serving, is counted,
// and is reported once however often it is looked at.
func TestChainKeepsRunningOnABadFile(t *testing.T) {
	dir := chainDir(t)
	path := writeChain(t, dir, "good")
	c, reg := newChain(t, path, seen{})

	for _, bad := range []string{
		"plugins: [{name: x, wasm: missing.wasm}]",
		"plugins: [{name: x, wasm: chain.yaml}]", // not WebAssembly
		"plugins: [",
	} {
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		future := time.Now().Add(time.Hour + time.Duration(len(bad))*time.Second)
		_ = os.Chtimes(path, future, future)
		if ok, err := c.Reload(context.Background()); ok || err == nil || !strings.Contains(err.Error(), "chain.yaml") {
			t.Fatalf("Reload of %q = %v, %v; want an error naming the file", bad, ok, err)
		}
		if ok, err := c.Reload(context.Background()); ok || err != nil {
			t.Fatalf("second Reload of the same bad file = %v, %v; want it said once", ok, err)
		}
		if got := get(c); got != `"good"` {
			t.Fatalf("after a bad file the chain answered %s", got)
		}
	}
	errors := metricstest.Value(t, reg, "tremolo_wasm_chain_reloads_total", "result", "error")
	if errors != 3 {
		t.Fatalf("tremolo_wasm_chain_reloads_total{result=error} = %v, want 3", errors)
	}
}

func TestNewFailsOnABadFile(t *testing.T) {
	dir := chainDir(t)
	path := filepath.Join(dir, "chain.yaml")
	if err := os.WriteFile(path, []byte("plugins: [{name: x, wasm: missing.wasm}]"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt, err := wasmhost.NewRuntime(context.Background(), wasmhost.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	if _, err := wasmchain.New(context.Background(), seen{}, wasmchain.Options{Path: path, Runtime: rt}); err == nil || !strings.Contains(err.Error(), "missing.wasm") {
		t.Fatalf("New on a file naming a missing module: %v", err)
	}
	if _, err := wasmchain.New(context.Background(), seen{}, wasmchain.Options{Path: path}); err == nil {
		t.Fatal("New without a Runtime succeeded")
	}
}

// Watch loads a changed file by itself.
func TestWatch(t *testing.T) {
	dir := chainDir(t)
	path := writeChain(t, dir, "before")
	c, _ := newChain(t, path, seen{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Watch(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	writeChain(t, dir, "after", "after2")
	for deadline := time.Now().Add(10 * time.Second); get(c) != `"after2"`; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not load the changed file within 10 s")
		}
	}
}

// A chain file that disappears is reported once, not at every look, and the
// running chain keeps serving.
func TestChainSaysAMissingFileOnce(t *testing.T) {
	dir := chainDir(t)
	path := writeChain(t, dir, "here")
	c, reg := newChain(t, path, seen{})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reload(context.Background()); err == nil {
		t.Fatal("Reload of a missing file succeeded")
	}
	for range 3 {
		if ok, err := c.Reload(context.Background()); ok || err != nil {
			t.Fatalf("Reload of the same missing file = %v, %v; want it said once", ok, err)
		}
	}
	if n := metricstest.Value(t, reg, "tremolo_wasm_chain_reloads_total", "result", "error"); n != 1 {
		t.Fatalf("%v failed reloads counted, want 1", n)
	}
	if got := get(c); got != `"here"` {
		t.Fatalf("the running chain answered %s", got)
	}
}

// Close does not wait out a replaced chain's drain period, nor hang on a
// request that never leaves: it gives up when its context ends.
func TestCloseIsBounded(t *testing.T) {
	dir := chainDir(t)
	path := writeChain(t, dir, "old")
	next := seen{hold: make(chan struct{})}
	reg := prometheus.NewRegistry()
	rt, err := wasmhost.NewRuntime(context.Background(), wasmhost.RuntimeOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	c, err := wasmchain.New(context.Background(), next, wasmchain.Options{Path: path, Runtime: rt, Drain: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() { done <- get(c, "X-Hold", "1") }()
	time.Sleep(50 * time.Millisecond)
	writeChain(t, dir, "new", "newer")
	if ok, err := c.Reload(context.Background()); !ok || err != nil {
		t.Fatalf("Reload = %v, %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	began := time.Now()
	_ = c.Close(ctx) // may report the request still inside
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("Close took %v with a request held and a drain of an hour", took)
	}
	close(next.hold)
	<-done
	_ = rt.Close(context.Background())
}
