package edge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/platform/wasmchain"
	"github.com/tremolo-dev/tremolo/platform/wasmhost"
	"github.com/tremolo-dev/tremolo/wasm-plugins/plugintest"
)

// BenchmarkMiddleware measures the default chain (wasm-plugins/chain.yaml:
// jwt, ratelimit, abrouting, colour) on the app's feed request, in front of
// a handler that does nothing: as WebAssembly (-edge-middleware=wasm) and
// as the same plugins compiled in (-edge-middleware=go). It isolates what
// the chain itself costs from the rest of the edge; docs/benchmarks.md sets
// it beside the edge's own figure, where the same chain costs several
// times more. ns/op under RunParallel times GOMAXPROCS is the CPU per
// request. The modules are built with the go command (plugintest), so it
// runs under go test only:
//
//	go test -run XXX -bench Middleware -benchtime 200000x ./services/edge
func BenchmarkMiddleware(b *testing.B) {
	key := []byte(strings.Repeat("k", 32))
	signer, err := token.NewSigner(key, time.Hour, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := signer.Sign(42)
	if err != nil {
		b.Fatal(err)
	}
	file := benchChainFile(b)
	nothing := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

	rt, err := wasmhost.NewRuntime(context.Background(), wasmhost.RuntimeOptions{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Close(context.Background()) })
	p := &plugins{file: file, vars: chainVars(key), rt: rt}
	wasm, err := p.front(nothing)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.chain.Close(context.Background()) })
	native, err := nativeChain(file, chainVars(key))(nothing)
	if err != nil {
		b.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{MiddlewareGo, native}, {MiddlewareWasm, wasm}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					// What the app sends (tools/bench/edge's request).
					r := httptest.NewRequest(http.MethodGet, "/douyin/feed/?latest_time=0&token="+tok, nil)
					r.Header.Set("User-Agent", "Go-http-client/1.1")
					r.Header.Set("Accept-Encoding", "gzip")
					w := httptest.NewRecorder()
					tc.h.ServeHTTP(w, r)
					if w.Code != http.StatusOK || w.Body.Len() != 0 {
						b.Fatalf("the chain answered %d %q itself", w.Code, w.Body)
					}
				}
			})
		})
	}
}

// benchChainFile writes the default chain file with modules built for the
// benchmark and rate limits above any load (the buckets are still taken),
// as tools/bench/edge does for the edge's figure.
func benchChainFile(b *testing.B) string {
	return plugintest.WriteChain(b, "../../wasm-plugins/chain.yaml", func(p *wasmchain.Plugin, cfg map[string]any) {
		if p.Name == "ratelimit" {
			unlimited := map[string]any{"rate": 1e9, "burst": 1e9}
			cfg["tiers"].(map[string]any)["normal"] = map[string]any{"user": unlimited, "ip": unlimited}
		}
	})
}
