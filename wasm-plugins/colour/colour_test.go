package colour_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tremolo-dev/tremolo/wasm-plugins/colour"
	"github.com/tremolo-dev/tremolo/wasm-plugins/plugintest"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk/nethttp"
)

func TestMain(m *testing.M) { os.Exit(plugintest.Main(m)) }

// testCase is one row of testdata/cases.json, the table the Go plugin
// (native and WebAssembly) and the Rust plugin all pass.
type testCase struct {
	Name    string
	Config  json.RawMessage
	URI     string
	Headers [][2]string
	// Want maps request headers the next handler must see to their value:
	// null for absent, "<generated>" for a fresh request id.
	Want map[string]*string
	// WantResponse is the same for response headers; "<same>" is the
	// request id the next handler saw.
	WantResponse map[string]*string `json:"want_response"`
}

func loadCases(t *testing.T) []testCase {
	data, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []testCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("testdata/cases.json: %v", err)
	}
	return cases
}

// runner puts next behind the plugin with config.
type runner func(t *testing.T, config []byte, next http.Handler) http.Handler

func native(t *testing.T, config []byte, next http.Handler) http.Handler {
	mw, err := nethttp.Middleware(colour.New, config)
	if err != nil {
		t.Fatal(err)
	}
	return mw(next)
}

func goWasm(t *testing.T, config []byte, next http.Handler) http.Handler {
	return plugintest.Handler(t, plugintest.Wasm(t, "colour", true), config, next)
}

func rustWasm(t *testing.T, config []byte, next http.Handler) http.Handler {
	return plugintest.Handler(t, plugintest.RustWasm(t), config, next)
}

func wasmhost(t *testing.T, config []byte, next http.Handler) http.Handler {
	return plugintest.WasmhostHandler(t, "colour", plugintest.Wasm(t, "colour", false), config, next)
}

func rustWasmhost(t *testing.T, config []byte, next http.Handler) http.Handler {
	return plugintest.WasmhostHandler(t, "colour-rs", plugintest.RustWasm(t), config, next)
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{16}-[0-9a-f]+$`)

func runCases(t *testing.T, run runner) {
	for _, c := range loadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			var seen http.Header
			h := run(t, c.Config, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = r.Header.Clone()
			}))
			r := httptest.NewRequest("GET", c.URI, nil)
			for _, kv := range c.Headers {
				r.Header.Add(kv[0], kv[1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if seen == nil {
				t.Fatalf("the next handler did not run: %d %s", w.Code, w.Body)
			}
			for name, want := range c.Want {
				checkHeader(t, "request", seen, name, want, "")
			}
			for name, want := range c.WantResponse {
				checkHeader(t, "response", w.Header(), name, want, seen.Get(colour.RequestIDHeader))
			}
		})
	}
}

func checkHeader(t *testing.T, kind string, h http.Header, name string, want *string, same string) {
	t.Helper()
	got, ok := h[http.CanonicalHeaderKey(name)]
	switch {
	case want == nil:
		if ok {
			t.Errorf("%s header %s = %q, want none", kind, name, got)
		}
	case len(got) != 1:
		t.Errorf("%s header %s = %q, want one value", kind, name, got)
	case *want == "<generated>":
		if !generatedID.MatchString(got[0]) {
			t.Errorf("%s header %s = %q, want a generated id", kind, name, got[0])
		}
	case *want == "<same>":
		if got[0] != same {
			t.Errorf("%s header %s = %q, want the request's %q", kind, name, got[0], same)
		}
	case got[0] != *want:
		t.Errorf("%s header %s = %q, want %q", kind, name, got[0], *want)
	}
}

func TestCasesNative(t *testing.T)       { runCases(t, native) }
func TestCasesWasm(t *testing.T)         { runCases(t, goWasm) }
func TestCasesRustWasm(t *testing.T)     { runCases(t, rustWasm) }
func TestCasesWasmhost(t *testing.T)     { runCases(t, wasmhost) }
func TestCasesRustWasmhost(t *testing.T) { runCases(t, rustWasmhost) }

func TestIDsAreUnique(t *testing.T) {
	for name, run := range map[string]runner{"native": native, "wasm": goWasm, "rust": rustWasm} {
		t.Run(name, func(t *testing.T) {
			seen := map[string]bool{}
			h := run(t, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen[r.Header.Get(colour.RequestIDHeader)] = true
			}))
			for range 100 {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			}
			if len(seen) != 100 {
				t.Errorf("100 requests got %d distinct ids", len(seen))
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []struct{ config, field string }{
		{`{"cells": -1}`, "cells"},
		{`{"cells": 100000}`, "cells"},
		{`{"cells": "4"}`, "cells"},
		{`{"tags": ["ok", "not ok"]}`, "tags[1]"},
		{`{"tag_query": "a b"}`, "tag_query"},
		{`{"tag_cookie": "a;b"}`, "tag_cookie"},
		{`{"cell": 4}`, `"cell"`},
	} {
		_, err := colour.New([]byte(c.config))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("config %s: error %v, want one naming %s", c.config, err, c.field)
		}
	}
}

// TestBadConfigFailsLoading checks that a bad config stops the module from
// loading, with the message in the host's log.
func TestBadConfigFailsLoading(t *testing.T) {
	for name, module := range map[string]func(testing.TB) []byte{
		"go":   func(tb testing.TB) []byte { return plugintest.Wasm(tb, "colour", true) },
		"rust": plugintest.RustWasm,
	} {
		t.Run(name, func(t *testing.T) {
			logger := &plugintest.Logger{}
			_, err := plugintest.NewMiddleware(t.Context(), module(t), []byte(`{"cells": -1}`), logger, nil)
			if err == nil {
				t.Fatal("the module loaded with a bad config")
			}
			if !strings.Contains(logger.String(), "config field cells") {
				t.Errorf("the log does not name the field: %q", logger.String())
			}
			log, err := plugintest.WasmhostLoad(t, "colour", module(t), []byte(`{"cells": -1}`))
			if err == nil || !strings.Contains(log+err.Error(), "config field cells") {
				t.Errorf("wasmhost: %v, log:\n%s", err, log)
			}
		})
	}
}

// TestCellsSpread checks that sequential user ids spread evenly over a
// power-of-two number of cells.
func TestCellsSpread(t *testing.T) {
	count := make([]int, 16)
	for i := 1; i <= 16000; i++ {
		count[colour.Cell(fmt.Sprint(i), 16)]++
	}
	for c, n := range count {
		if n < 850 || n > 1150 {
			t.Errorf("cell %d got %d of 16000 users, want about 1000", c, n)
		}
	}
}

const benchConfig = `{"tag_query": "tag", "tag_cookie": "tt", "cells": 64}`

func benchmark(b *testing.B, h http.Handler) {
	r := httptest.NewRequest("GET", "/douyin/feed?latest_time=0&tag=shadow", nil)
	r.Header.Set("X-Tremolo-User-Id", "1234567")
	r.Header.Set("Cookie", "a=b; tt=loadtest")
	r.Header.Set("User-Agent", "Douyin/1.0")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	plugintest.Timed(b, func() {
		r.Header.Del(colour.RequestIDHeader)
		r.Header.Del(colour.TrafficTagHeader)
		h.ServeHTTP(w, r)
	})
}

var nop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

func BenchmarkNative(b *testing.B) {
	mw, err := nethttp.Middleware(colour.New, []byte(benchConfig))
	if err != nil {
		b.Fatal(err)
	}
	benchmark(b, mw(nop))
}

func BenchmarkWasm(b *testing.B) {
	benchmark(b, plugintest.Handler(b, plugintest.Wasm(b, "colour", true), []byte(benchConfig), nop))
}

func BenchmarkWasmhost(b *testing.B) {
	benchmark(b, plugintest.WasmhostHandler(b, "colour", plugintest.Wasm(b, "colour", false), []byte(benchConfig), nop))
}

// BenchmarkWasmhostTrusted is BenchmarkWasmhost without wazero's
// termination checks.
func BenchmarkWasmhostTrusted(b *testing.B) {
	benchmark(b, plugintest.WasmhostHandler(b, "colour", plugintest.Wasm(b, "colour", false), []byte(benchConfig), nop, plugintest.Trusted))
}

func BenchmarkRustWasmhost(b *testing.B) {
	benchmark(b, plugintest.WasmhostHandler(b, "colour-rs", plugintest.RustWasm(b), []byte(benchConfig), nop))
}

func BenchmarkRustWasmhostTrusted(b *testing.B) {
	benchmark(b, plugintest.WasmhostHandler(b, "colour-rs", plugintest.RustWasm(b), []byte(benchConfig), nop, plugintest.Trusted))
}

func BenchmarkRustWasm(b *testing.B) {
	benchmark(b, plugintest.Handler(b, plugintest.RustWasm(b), []byte(benchConfig), nop))
}
