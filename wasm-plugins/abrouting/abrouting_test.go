package abrouting_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/tremolo-dev/tremolo/wasm-plugins/abrouting"
	"github.com/tremolo-dev/tremolo/wasm-plugins/plugintest"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk/nethttp"
)

func TestMain(m *testing.M) { os.Exit(plugintest.Main(m)) }

const config = `{
	"versions": [{"name": "stable", "weight": 90, "label": "v1"}, {"name": "canary", "weight": 10, "label": "v2-canary"}],
	"experiments": [
		{"name": "ranker", "paths": ["/douyin/feed"], "variants": [
			{"name": "control", "weight": 50}, {"name": "deep", "weight": 50, "label": "ranker-deep"}]},
		{"name": "ui", "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}
	],
	"sticky_cookie": "did",
	"override_header": "X-Tremolo-Override",
	"override_cookie": "tremolo_override"
}`

type seen struct{ version, experiments string }

type runner func(t *testing.T, config string) func(r *http.Request) seen

func run(t *testing.T, h func(http.Handler) http.Handler) func(r *http.Request) seen {
	var got seen
	handler := h(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = seen{strings.Join(r.Header.Values(abrouting.VersionHeader), ","), strings.Join(r.Header.Values(abrouting.ExperimentHeader), ",")}
	}))
	return func(r *http.Request) seen {
		got = seen{"<next not run>", ""}
		handler.ServeHTTP(httptest.NewRecorder(), r)
		return got
	}
}

func native(t *testing.T, config string) func(r *http.Request) seen {
	mw, err := nethttp.Middleware(abrouting.New, []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	return run(t, mw)
}

func wasm(t *testing.T, config string) func(r *http.Request) seen {
	module := plugintest.Wasm(t, "abrouting", true)
	return run(t, func(next http.Handler) http.Handler { return plugintest.Handler(t, module, []byte(config), next) })
}

func wasmhost(t *testing.T, config string) func(r *http.Request) seen {
	module := plugintest.Wasm(t, "abrouting", false)
	return run(t, func(next http.Handler) http.Handler {
		return plugintest.WasmhostHandler(t, "abrouting", module, []byte(config), next)
	})
}

var runners = map[string]runner{"native": native, "wasm": wasm, "wasmhost": wasmhost}

func user(path, id string) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set(abrouting.UserHeader, id)
	return r
}

func TestAssignment(t *testing.T) {
	for name, mk := range runners {
		t.Run(name, func(t *testing.T) {
			serve := mk(t, config)
			// Weights: over many users the canary gets about 10%.
			canary, deep := 0, 0
			const n = 2000
			for i := range n {
				got := serve(user("/douyin/feed/", fmt.Sprint(i+1)))
				if strings.Contains(got.experiments, "ranker=deep") {
					deep++
					if got.version != "ranker-deep" {
						t.Fatalf("user %d in ranker=deep has version %q, want the variant's label", i+1, got.version)
					}
				} else if got.version == "v2-canary" {
					canary++
				}
				if !strings.HasPrefix(got.experiments, "ranker=") || !strings.Contains(got.experiments, ",ui=") {
					t.Fatalf("experiments %q, want ranker and ui", got.experiments)
				}
			}
			if math.Abs(float64(deep)/n-0.5) > 0.05 {
				t.Errorf("ranker=deep got %d of %d users, want about half", deep, n)
			}
			if share := float64(canary) / float64(n-deep); math.Abs(share-0.1) > 0.03 {
				t.Errorf("canary got %.3f of the users outside ranker=deep, want about 0.1", share)
			}
			// Sticky: the same user, the same arms.
			a, b := serve(user("/douyin/feed", "77")), serve(user("/douyin/feed", "77"))
			if a != b {
				t.Errorf("user 77 got %+v then %+v", a, b)
			}
			// Path scope: ranker only on the feed.
			if got := serve(user("/douyin/comment/list", "77")); strings.Contains(got.experiments, "ranker") {
				t.Errorf("ranker applied to /douyin/comment/list: %q", got.experiments)
			}
		})
	}
}

func TestStickyWithoutUser(t *testing.T) {
	for name, mk := range runners {
		t.Run(name, func(t *testing.T) {
			serve := mk(t, config)
			varies := map[seen]bool{}
			for i := range 50 {
				r := httptest.NewRequest("GET", "/douyin/feed", nil)
				r.Header.Set("Cookie", "did=device-1")
				r.RemoteAddr = fmt.Sprintf("10.0.0.%d:1234", i)
				varies[serve(r)] = true
			}
			if len(varies) != 1 {
				t.Errorf("one sticky cookie from 50 IPs got %d different assignments", len(varies))
			}
			byIP := map[seen]bool{}
			for i := range 50 {
				r := httptest.NewRequest("GET", "/douyin/feed", nil)
				r.RemoteAddr = fmt.Sprintf("10.0.0.%d:%d", i, 1000+i)
				byIP[serve(r)] = true
			}
			if len(byIP) < 2 {
				t.Errorf("50 IPs all got the same assignment")
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	for name, mk := range runners {
		t.Run(name, func(t *testing.T) {
			serve := mk(t, config)
			r := user("/douyin/feed", "5")
			r.Header.Set("X-Tremolo-Override", "version=canary, ui=b, ranker=control")
			if got := serve(r); got.version != "v2-canary" || got.experiments != "ranker=control,ui=b" {
				t.Errorf("header overrides: %+v", got)
			}
			r = user("/douyin/feed", "5")
			r.Header.Set("Cookie", "tremolo_override=ranker=deep")
			if got := serve(r); got.version != "ranker-deep" || !strings.HasPrefix(got.experiments, "ranker=deep,") {
				t.Errorf("cookie override: %+v", got)
			}
			r = user("/x", "5")
			r.Header.Set("X-Tremolo-Override", "version=internal-only,ui=zzz")
			normal := serve(user("/x", "5"))
			if got := serve(r); got != normal {
				t.Errorf("unknown override names changed the assignment: %+v, want %+v", got, normal)
			}
		})
	}
}

func TestClientHeadersDropped(t *testing.T) {
	for name, mk := range runners {
		t.Run(name, func(t *testing.T) {
			serve := mk(t, `{"experiments":[{"name":"x","paths":["/only"],"variants":[{"name":"a","weight":1}]}]}`)
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set(abrouting.VersionHeader, "internal")
			r.Header.Set(abrouting.ExperimentHeader, "x=a")
			if got := serve(r); got != (seen{}) {
				t.Errorf("client-sent headers reached the next handler: %+v", got)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []struct{ config, field string }{
		{`{"versions":[{"name":"a","weight":0}]}`, "versions"},
		{`{"versions":[{"name":"a b","weight":1}]}`, "versions[0].name"},
		{`{"versions":[{"name":"a","weight":1},{"name":"a","weight":1}]}`, "versions[1].name"},
		{`{"versions":[{"name":"a","weight":-1}]}`, "versions[0].weight"},
		{`{"experiments":[{"name":"e"}]}`, "experiments[0].variants"},
		{`{"experiments":[{"name":"version","variants":[{"name":"a","weight":1}]}]}`, "experiments[0].name"},
		{`{"experiments":[{"name":"e","paths":["feed"],"variants":[{"name":"a","weight":1}]}]}`, "experiments[0].paths[0]"},
		{`{"experiments":[{"name":"e","variants":[{"name":"a","weight":1,"label":"x y"}]}]}`, "experiments[0].variants[0].label"},
		{`{"sticky_cookie":"a;b"}`, "sticky_cookie"},
		{`{"override_header":"x-tremolo-version"}`, "override_header"},
		{`{"versions":{}}`, "versions"},
	} {
		_, err := abrouting.New([]byte(c.config))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("config %s: error %v, want one naming %s", c.config, err, c.field)
		}
	}
}

func benchmark(b *testing.B, h http.Handler) {
	r := user("/douyin/feed", "1234567")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	plugintest.Timed(b, func() {
		h.ServeHTTP(w, r)
	})
}

var nop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

func BenchmarkNative(b *testing.B) {
	mw, err := nethttp.Middleware(abrouting.New, []byte(config))
	if err != nil {
		b.Fatal(err)
	}
	benchmark(b, mw(nop))
}

func BenchmarkWasm(b *testing.B) {
	benchmark(b, plugintest.Handler(b, plugintest.Wasm(b, "abrouting", true), []byte(config), nop))
}

func BenchmarkWasmhost(b *testing.B) {
	benchmark(b, plugintest.WasmhostHandler(b, "abrouting", plugintest.Wasm(b, "abrouting", false), []byte(config), nop))
}

// BenchmarkWasmhostTrusted is BenchmarkWasmhost without wazero's
// termination checks.
func BenchmarkWasmhostTrusted(b *testing.B) {
	benchmark(b, plugintest.WasmhostHandler(b, "abrouting", plugintest.Wasm(b, "abrouting", false), []byte(config), nop, plugintest.Trusted))
}
