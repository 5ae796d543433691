package wasmhost

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tremolo-dev/tremolo/platform/metrics/metricstest"
	"github.com/tremolo-dev/tremolo/platform/wasmhost/wasmhosttest"
)

// The test guests: see wasmhosttest.

// buildDir holds what the tests compile (wazero's cache), for one run.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// guest returns the module of testdata/guests/<name>.
func guest(t testing.TB, name string) []byte {
	t.Helper()
	return wasmhosttest.Guest(t, name)
}

// syncBuffer is a log destination tests read while handlers write to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testHost is a Runtime with its registry and log, closed at cleanup.
type testHost struct {
	t   testing.TB
	rt  *Runtime
	reg *prometheus.Registry
	log *syncBuffer
}

func newHost(t testing.TB, opts RuntimeOptions) *testHost {
	t.Helper()
	h := &testHost{t: t, reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	opts.Registerer = h.reg
	if opts.CacheDir == "" { // compile each guest once per run, not once per test
		opts.CacheDir = filepath.Join(buildDir, "compiled")
	}
	opts.Logger = slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt, err := NewRuntime(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	h.rt = rt
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("Runtime.Close: %v", err)
		}
	})
	return h
}

// load loads testdata guest name under the same plugin name.
func (h *testHost) load(t testing.TB, name string, opts PluginOptions) *Plugin {
	t.Helper()
	if opts.Name == "" {
		opts.Name = name
	}
	opts.Wasm = guest(t, name)
	if opts.Budget == 0 {
		// Generous: the machine running the tests may be busy (and -race
		// slows guests' host calls); tests of timeouts set their own.
		opts.Budget = 2 * time.Second
	}
	p, err := h.rt.Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (h *testHost) counter(name string, labels ...string) float64 {
	return metricstest.Value(h.t, h.reg, name, labels...)
}

// upstream is the handler behind the plugins: it echoes what reached it.
func upstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Upstream", "1")
		fmt.Fprintf(w, "upstream %s %s plugin=%s body=%s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Plugin"), body)
	})
}

// denied is a DenyFunc that answers 403 with the error's text, as an edge
// putting it in its envelope would.
func denied(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("X-Denied", string(err.(*Error).Kind))
	http.Error(w, "denied: "+err.Error(), http.StatusForbidden)
}

// do serves one request through h.
func do(h http.Handler, method, target string, body string, header ...string) *httptest.ResponseRecorder {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
