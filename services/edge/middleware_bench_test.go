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
// a handler that does nothing: as WebAssembly (-edge-middleware=wasm: the
// four plugins in one module, as the file bundles them), as WebAssembly
// with a module per plugin (the file without its bundle: "modules") and as
// the same plugins compiled in (-edge-middleware=go). It isolates what
// the chain itself costs from the rest of the edge; docs/benchmarks.md sets
// it beside the edge's own figure, where the same chain costs several
// times more. ns/op under RunParallel times GOMAXPROCS is the CPU per
// request. The modules are built with the go command (plugintest), so it
// runs under go test only:
//
//	go test -run XXX -bench Middleware -benchtime 200000x ./services/edge
func BenchmarkMiddleware(b *testing.B) {
	tok, chains := benchChains(b)
	for _, tc := range chains {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					serveFeedRequest(b, tc.h, tok)
				}
			})
		})
	}
}

// BenchmarkMiddlewareCold is BenchmarkMiddleware, one request at a time,
// with 2 MiB of other memory written between requests, as the rest of a
// feed request (JSON, protobuf, SQLite's caches) does in the edge: each
// request finds the chain's code and data cold in the CPU's caches. The
// "none" row is the sweep and the request without a chain: what a chain
// costs cold is its row minus that one, to set against BenchmarkMiddleware's
// figures. The WebAssembly chain loses much more to cold caches than the
// same plugins compiled in, and four modules (four Go runtimes with a heap
// each) more than the one bundle (docs/benchmarks.md).
//
//	go test -run XXX -bench MiddlewareCold -benchtime 30000x ./services/edge
func BenchmarkMiddlewareCold(b *testing.B) {
	tok, chains := benchChains(b)
	other := make([]byte, 2<<20)
	none := benchChain{"none", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	for _, tc := range append([]benchChain{none}, chains...) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				for i := 0; i < len(other); i += 64 {
					other[i]++
				}
				serveFeedRequest(b, tc.h, tok)
			}
		})
	}
}

type benchChain struct {
	name string
	h    http.Handler
}

// benchChains returns a token for user 42 and the default chain, compiled
// in, as WebAssembly (its plugins bundled in one module, as the file says)
// and as WebAssembly with each plugin a module of its own ("modules"), in
// front of a handler that does nothing.
func benchChains(b *testing.B) (string, []benchChain) {
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
	load := func(file string) http.Handler {
		p := &plugins{file: file, vars: chainVars(key), rt: rt}
		h, err := p.front(nothing)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.chain.Close(context.Background()) })
		return h
	}
	native, err := nativeChain(file, chainVars(key))(nothing)
	if err != nil {
		b.Fatal(err)
	}
	return tok, []benchChain{{MiddlewareGo, native}, {MiddlewareWasm, load(file)}, {"modules", load(plugintest.WithoutBundle(b, file))}}
}

// serveFeedRequest sends what the app sends (tools/bench/edge's request)
// through h, failing the benchmark if the chain answers it itself.
func serveFeedRequest(b *testing.B, h http.Handler, tok string) {
	r := httptest.NewRequest(http.MethodGet, "/douyin/feed/?latest_time=0&token="+tok, nil)
	r.Header.Set("User-Agent", "Go-http-client/1.1")
	r.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		b.Fatalf("the chain answered %d %q itself", w.Code, w.Body)
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
