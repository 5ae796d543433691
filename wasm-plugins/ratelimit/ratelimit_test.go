package ratelimit_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/tremolo-dev/tremolo/wasm-plugins/plugintest"
	"github.com/tremolo-dev/tremolo/wasm-plugins/ratelimit"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk/nethttp"
)

func TestMain(m *testing.M) { os.Exit(plugintest.Main(m)) }

// The rates are tiny so that no token comes back during a test.
const config = `{
	"tiers": {
		"normal": {"user": {"rate": 0.01, "burst": 2}, "ip": {"rate": 0.01, "burst": 3}},
		"vip":    {"user": {"rate": 0.01, "burst": 5}},
		"bot":    {"ip":   {"rate": 0.5, "burst": 1}}
	},
	"rules": [
		{"header": "X-Tremolo-Tier", "values": ["vip"], "tier": "vip"},
		{"user_agent": ["Bot", "spider"], "tier": "bot"}
	]
}`

type runner func(t *testing.T, config string) http.Handler

var next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Next", "1") })

func native(t *testing.T, config string) http.Handler {
	mw, err := nethttp.Middleware(ratelimit.New, []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	return mw(next)
}

// wasm runs the portable build, whose buckets are per instance, in
// http-wasm-host-go. That host pools instances in a sync.Pool, which a
// garbage collection empties, and a new instance starts with full buckets:
// the GC is held off while the test runs so the instance stays. Under the
// race detector sync.Pool also drops items at random, so the test cannot
// count on one instance and is skipped.
func wasm(t *testing.T, config string) http.Handler {
	if raceEnabled {
		t.Skip("per-instance buckets in http-wasm-host-go: its sync.Pool drops instances at random under -race")
	}
	gc := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(gc) })
	return plugintest.Handler(t, plugintest.Wasm(t, "ratelimit", true), []byte(config), next)
}

// wasmhost runs the default build, whose buckets are the host's
// (tremolo.bucket_take), in Tremolo's host.
func wasmhost(t *testing.T, config string) http.Handler {
	return plugintest.WasmhostHandler(t, "ratelimit", plugintest.Wasm(t, "ratelimit", false), []byte(config), next)
}

var runners = map[string]runner{"native": native, "wasm": wasm, "wasmhost": wasmhost}

// allowed serves r and reports whether it got through; a refusal must be
// the envelope with a Retry-After.
func allowed(t *testing.T, h http.Handler, r *http.Request) (bool, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("X-Next") == "1" {
		return true, ""
	}
	var env struct {
		StatusCode int    `json:"status_code"`
		StatusMsg  string `json:"status_msg"`
	}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.StatusCode != 1008 || env.StatusMsg != "too many requests" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("refusal: HTTP %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	return false, w.Header().Get("Retry-After")
}

func req(ip, user, ua string, headers ...string) *http.Request {
	r := httptest.NewRequest("GET", "/douyin/feed", nil)
	r.RemoteAddr = ip + ":5555"
	if user != "" {
		r.Header.Set(ratelimit.UserHeader, user)
	}
	if ua != "" {
		r.Header.Set("User-Agent", ua)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// pattern serves n copies of mk() and returns "+" for each allowed, "-"
// for each refused.
func pattern(t *testing.T, h http.Handler, n int, mk func() *http.Request) string {
	t.Helper()
	var b strings.Builder
	for range n {
		if ok, _ := allowed(t, h, mk()); ok {
			b.WriteByte('+')
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestLimits(t *testing.T) {
	for name, mk := range runners {
		t.Run(name, func(t *testing.T) {
			h := mk(t, config)
			if got := pattern(t, h, 3, func() *http.Request { return req("10.0.0.1", "7", "") }); got != "++-" {
				t.Errorf("user 7: %s, want ++- (user burst 2)", got)
			}
			if got := pattern(t, h, 2, func() *http.Request { return req("10.0.0.2", "8", "") }); got != "++" {
				t.Errorf("user 8 after user 7 ran out: %s, want ++", got)
			}
			if got := pattern(t, h, 4, func() *http.Request { return req("10.0.0.3", "", "") }); got != "+++-" {
				t.Errorf("anonymous IP: %s, want +++- (IP burst 3)", got)
			}
			if got := pattern(t, h, 6, func() *http.Request { return req("10.0.0.4", "9", "", "X-Tremolo-Tier", "vip") }); got != "+++++-" {
				t.Errorf("vip: %s, want +++++- (vip burst 5, no IP limit)", got)
			}
			ok, retry := allowed(t, h, req("10.0.0.5", "", "Mozilla/5.0 (compatible; Googlebot/2.1)"))
			if !ok {
				t.Fatal("the first bot request was refused")
			}
			ok, retry = allowed(t, h, req("10.0.0.5", "", "googlebot"))
			if ok || retry != "2" {
				t.Errorf("second bot request: allowed=%v Retry-After=%q, want refused after 2 (0.5/s)", ok, retry)
			}
		})
	}
}

func TestGlobal(t *testing.T) {
	for name, mk := range runners {
		t.Run(name, func(t *testing.T) {
			h := mk(t, `{"tiers":{"normal":{}},"global":{"rate":0.01,"burst":3}}`)
			n := 0
			if got := pattern(t, h, 4, func() *http.Request { n++; return req("10.1.0."+string(rune('0'+n)), "", "") }); got != "+++-" {
				t.Errorf("global: %s, want +++-", got)
			}
		})
	}
}

func TestForwardedFor(t *testing.T) {
	for name, mk := range runners {
		t.Run(name, func(t *testing.T) {
			h := mk(t, `{"tiers":{"normal":{"ip":{"rate":0.01,"burst":1}}},"forwarded_for_hops":1}`)
			// The client forges the first entries; the proxy appends the
			// real one, which alone counts.
			r1 := req("192.168.0.1", "", "", "X-Forwarded-For", "1.1.1.1, 203.0.113.7")
			r2 := req("192.168.0.1", "", "", "X-Forwarded-For", "2.2.2.2", "X-Forwarded-For", "203.0.113.7")
			r3 := req("192.168.0.1", "", "", "X-Forwarded-For", "203.0.113.8")
			if ok, _ := allowed(t, h, r1); !ok {
				t.Fatal("first request refused")
			}
			if ok, _ := allowed(t, h, r2); ok {
				t.Error("the same client behind a forged entry got a fresh bucket")
			}
			if ok, _ := allowed(t, h, r3); !ok {
				t.Error("another client behind the same proxy was refused")
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []struct{ config, field string }{
		{`{"tiers":{}}`, "tiers"},
		{`{"tiers":{"normal":{"user":{"rate":0,"burst":1}}}}`, "tiers.normal.user"},
		{`{"tiers":{"normal":{"ip":{"rate":1,"burst":0}}}}`, "tiers.normal.ip"},
		{`{"tiers":{"a b":{}},"default_tier":"a b"}`, "tiers.a b"},
		{`{"default_tier":"gold"}`, "default_tier"},
		{`{"rules":[{"header":"X-T","tier":"gold"}]}`, "rules[0].tier"},
		{`{"rules":[{"tier":"normal"}]}`, "rules[0]"},
		{`{"rules":[{"header":"X-T","user_agent":["x"],"tier":"normal"}]}`, "rules[0]"},
		{`{"global":{"rate":-1,"burst":1}}`, "global"},
		{`{"forwarded_for_hops":-1}`, "forwarded_for_hops"},
		{`{"tiers":{"normal":{"user":{"rate":"1"}}}}`, "user.rate"}, // encoding/json leaves map keys out of the path
		{`{"tier":{}}`, `"tier"`},
	} {
		_, err := ratelimit.New([]byte(c.config))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("config %s: error %v, want one naming %s", c.config, err, c.field)
		}
	}
}

const benchConfig = `{"tiers":{"normal":{"user":{"rate":1e9,"burst":1000000},"ip":{"rate":1e9,"burst":1000000}}},
	"rules":[{"header":"X-Tremolo-Tier","values":["vip"],"tier":"normal"},{"user_agent":["bot"],"tier":"normal"}],
	"global":{"rate":1e9,"burst":1000000}}`

func benchmark(b *testing.B, h http.Handler) {
	r := req("10.0.0.1", "1234567", "Douyin/23.1 (iPhone)")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	plugintest.Timed(b, func() {
		h.ServeHTTP(w, r)
	})
	if w.Header().Get("X-Next") != "1" {
		b.Fatal("refused")
	}
}

var nop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Next", "1") })

func BenchmarkNative(b *testing.B) {
	mw, err := nethttp.Middleware(ratelimit.New, []byte(benchConfig))
	if err != nil {
		b.Fatal(err)
	}
	benchmark(b, mw(nop))
}

func BenchmarkWasm(b *testing.B) {
	benchmark(b, plugintest.Handler(b, plugintest.Wasm(b, "ratelimit", true), []byte(benchConfig), nop))
}

// BenchmarkWasmhost is the default build in Tremolo's host: buckets in
// the host's in-process store.
func BenchmarkWasmhost(b *testing.B) {
	benchmark(b, plugintest.WasmhostHandler(b, "ratelimit", plugintest.Wasm(b, "ratelimit", false), []byte(benchConfig), nop))
}

// BenchmarkWasmhostTrusted is BenchmarkWasmhost without wazero's
// termination checks.
func BenchmarkWasmhostTrusted(b *testing.B) {
	benchmark(b, plugintest.WasmhostHandler(b, "ratelimit", plugintest.Wasm(b, "ratelimit", false), []byte(benchConfig), nop, plugintest.Trusted))
}
