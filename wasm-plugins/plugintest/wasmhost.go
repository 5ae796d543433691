package plugintest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tremolo-dev/tremolo/platform/wasmhost"
)

// The test binary's wasmhost runtime: one, so that its compilation cache
// compiles each module once (a Go module takes seconds).
var (
	hostOnce sync.Once
	hostRT   *wasmhost.Runtime
	hostErr  error
	hostLogs syncBuffer
	hostSeq  atomic.Int64
)

// WasmhostHandler returns next behind module with config in Tremolo's own
// host (platform/wasmhost), fail-closed, failing the test when the module
// does not load. Each call loads the plugin under a name of its own (name
// and a number), so its token buckets start full. The plugin is closed
// when the test ends. opts may adjust the plugin's options (Trusted, say).
func WasmhostHandler(tb testing.TB, name string, module, config []byte, next http.Handler, opts ...func(*wasmhost.PluginOptions)) http.Handler {
	tb.Helper()
	hostOnce.Do(func() {
		logger := slog.New(slog.NewTextHandler(&hostLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		hostRT, hostErr = wasmhost.NewRuntime(context.Background(), wasmhost.RuntimeOptions{Logger: logger})
	})
	if hostErr != nil {
		tb.Fatalf("wasmhost.NewRuntime: %v", hostErr)
	}
	logs := &hostLogs
	ctx := context.Background()
	po := wasmhost.PluginOptions{Name: fmt.Sprintf("%s-%d", name, hostSeq.Add(1)), Wasm: module, Config: config, Policy: wasmhost.FailClosed, Warm: 1}
	for _, o := range opts {
		o(&po)
	}
	p, err := hostRT.Load(ctx, po)
	if err != nil {
		tb.Fatalf("loading %s in wasmhost: %v\nhost log:\n%s", name, err, logs.String())
	}
	tb.Cleanup(func() { _ = p.Close(context.Background()) })
	return p.Wrap(next, func(w http.ResponseWriter, r *http.Request, err error) {
		tb.Errorf("plugin %s failed on %s %s: %v\nhost log:\n%s", name, r.Method, r.URL, err, logs.String())
		http.Error(w, err.Error(), http.StatusInternalServerError)
	})
}

// Trusted makes WasmhostHandler load the plugin trusted: without wazero's
// termination checks.
func Trusted(o *wasmhost.PluginOptions) { o.Trusted = true }

// WasmhostLoad loads module with config in a new wasmhost runtime and
// returns the host's log and Load's error, for tests of configs that must
// not load.
func WasmhostLoad(tb testing.TB, name string, module, config []byte) (log string, err error) {
	tb.Helper()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx := context.Background()
	rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeOptions{Logger: logger})
	if err != nil {
		tb.Fatalf("wasmhost.NewRuntime: %v", err)
	}
	defer rt.Close(context.Background())
	_, err = rt.Load(ctx, wasmhost.PluginOptions{Name: name, Wasm: module, Config: config, Warm: 1})
	return logs.String(), err
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
