package allinone_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/tremolo-dev/tremolo/platform/ratelimit/redistest"
	"github.com/tremolo-dev/tremolo/platform/wasmchain"
	"github.com/tremolo-dev/tremolo/wasm-plugins/plugintest"
)

// chainFileEnv names the default chain file when the test runs outside the
// repository (Bazel passes $(rootpath //wasm-plugins:chain.yaml)).
const chainFileEnv = "TREMOLO_CHAIN_FILE"

// defaultChain returns the path of wasm-plugins/chain.yaml, the chain the
// edge runs by default.
func defaultChain(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(chainFileEnv); p != "" {
		return plugintest.RunfilePath(p)
	}
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "wasm-plugins", "chain.yaml")
}

// writeChain writes the default chain file with modules built for the
// test (plugintest.WriteChain).
func writeChain(t testing.TB, edit func(p *wasmchain.Plugin, config map[string]any)) string {
	t.Helper()
	return plugintest.WriteChain(t, defaultChain(t), edit)
}

// wasmArgs are the flags of an app whose edge runs the default plugin
// chain, with rate limits far above what a test sends from one address.
func wasmArgs(t testing.TB) []string {
	t.Helper()
	chain := writeChain(t, func(p *wasmchain.Plugin, cfg map[string]any) {
		if p.Name == "ratelimit" {
			cfg["tiers"].(map[string]any)["normal"] = map[string]any{
				"user": map[string]any{"rate": 1e6, "burst": 1e6},
				"ip":   map[string]any{"rate": 1e6, "burst": 1e6},
			}
		}
	})
	return pluginArgs(chain)
}

// pluginArgs are the flags of an app whose edge runs the chain file chain.
// The apps of one test run share a compilation cache: each plugin is
// compiled once, not once per app.
func pluginArgs(chain string) []string {
	return []string{"-edge-middleware", "wasm", "-edge-plugins", chain, "-edge-plugins-cache", compiledPlugins()}
}

// compiledPlugins is the test run's compilation cache, removed by TestMain.
var compiledPlugins = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "tremolo-api-plugins-")
	if err != nil {
		panic(err)
	}
	return dir
})

// getWith sends GET path?q with extra request headers and returns the
// checked answer, its response headers and how long it took.
func getWith(t testing.TB, e *env, path string, q url.Values, header http.Header) (*reply, http.Header, time.Duration) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	var respHeader http.Header
	began := time.Now()
	r, err := e.c.sendHeaders(req, path, &respHeader)
	if err != nil {
		t.Fatal(err)
	}
	return r, respHeader, time.Since(began)
}

// metric returns the sum of the samples of a metric whose labels include
// every one of labels ("plugin=\"loop\""), read from the app's /metrics.
func metric(t testing.TB, e *env, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		matches := true
		for _, l := range labels {
			matches = matches && strings.Contains(line, l)
		}
		if matches {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// Rate limits through the edge: over the limit, the route's envelope with
// 1008 and Retry-After; another user keeps their own budget.
func TestPluginRateLimit(t *testing.T) {
	chain := writeChain(t, func(p *wasmchain.Plugin, cfg map[string]any) {
		if p.Name == "ratelimit" {
			cfg["tiers"].(map[string]any)["normal"] = map[string]any{
				"user": map[string]any{"rate": 0.01, "burst": 3},
				"ip":   map[string]any{"rate": 1e6, "burst": 1e6},
			}
		}
	})
	e := startEnv(t, t.TempDir(), nil, pluginArgs(chain)...)
	a := register(t, e, inForm, "rl-a", "pw")
	b := register(t, e, inForm, "rl-b", "pw")
	for i := range 3 {
		e.c.get(t, "/douyin/favorite/list/", vals("user_id", a.id64(), "token", a.token)).ok(t, fmt.Sprintf("request %d within the burst", i+1))
	}
	r, h, _ := getWith(t, e, "/douyin/favorite/list/", vals("user_id", a.id64(), "token", a.token), nil)
	if r.StatusCode != 1008 || !strings.Contains(string(r.raw), `"video_list":[]`) {
		t.Fatalf("over the limit: %s; want 1008 with the route's fields", r.raw)
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("over the limit: Retry-After %q, want whole seconds", h.Get("Retry-After"))
	}
	e.c.get(t, "/douyin/favorite/list/", vals("user_id", b.id64(), "token", b.token)).ok(t, "another user")
}

// The edge survives plugins that panic, loop, allocate without bound or
// break the ABI: each request gets its plugin's policy outcome (fail_closed:
// the 1014 envelope; fail_open: served as if the plugin were absent) within
// the plugin's budget, the failures are counted, and the next request is
// served.
func TestEdgeSurvivesFaultyPlugins(t *testing.T) {
	faulty := map[string]wasmchain.Plugin{
		"panic":   {Policy: "fail_closed", Budget: "500ms"},
		"loop":    {Policy: "fail_closed", Budget: "300ms"},
		"alloc":   {Policy: "fail_open", Budget: "2s", MemoryLimitMiB: 32},
		"garbage": {Policy: "fail_open", Budget: "500ms"},
	}
	chain := writeChain(t, nil)
	raw, err := os.ReadFile(chain)
	if err != nil {
		t.Fatal(err)
	}
	var f wasmchain.File
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"panic", "loop", "alloc", "garbage"} {
		p := faulty[name]
		p.Name, p.Wasm = "faulty-"+name, filepath.Join(filepath.Dir(chain), name+".guest.wasm")
		if err := os.WriteFile(p.Wasm, plugintest.FaultyGuest(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
		f.Plugins = append(f.Plugins, p) // untrusted: termination checks on
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chain, out, 0o644); err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, t.TempDir(), nil, pluginArgs(chain)...)
	a := register(t, e, inForm, "faults", "pw")
	q := vals("user_id", a.id64(), "token", a.token)

	for _, c := range []struct {
		header, value, plugin string
		wantCode              int32
		within                time.Duration
	}{
		{"X-Panic", "1", "faulty-panic", 1014, 5 * time.Second},
		{"X-Loop", "1", "faulty-loop", 1014, 5 * time.Second},
		{"X-Alloc", "1", "faulty-alloc", 0, 10 * time.Second},
		{"X-Garbage", "ptr", "faulty-garbage", 0, 5 * time.Second},
		{"X-Garbage", "len", "faulty-garbage", 0, 5 * time.Second},
	} {
		before := metric(t, e, "tremolo_wasm_failures_total", `plugin="`+c.plugin+`"`)
		r, _, took := getWith(t, e, "/douyin/favorite/list/", q, http.Header{c.header: {c.value}})
		if r.StatusCode != c.wantCode {
			t.Errorf("%s: %s: status %d %q, want %d", c.plugin, c.header, r.StatusCode, r.StatusMsg, c.wantCode)
		}
		if c.wantCode != 0 && (!strings.Contains(string(r.raw), `"video_list":[]`) || strings.Contains(r.StatusMsg, "panic")) {
			t.Errorf("%s: refusal %s: want the route's envelope, without the guest's words", c.plugin, r.raw)
		}
		if took > c.within {
			t.Errorf("%s: answered after %v, want within %v", c.plugin, took, c.within)
		}
		if after := metric(t, e, "tremolo_wasm_failures_total", `plugin="`+c.plugin+`"`); after <= before {
			t.Errorf("%s: tremolo_wasm_failures_total went from %v to %v", c.plugin, before, after)
		}
		e.c.get(t, "/douyin/favorite/list/", q).ok(t, "the next request, after "+c.plugin)
	}
}

// A change of the chain file is loaded and swapped in while requests keep
// flowing: none fails, the new configuration applies, and a file that does
// not load (not WASM at all) leaves the running chain serving.
func TestChainReloadUnderLoad(t *testing.T) {
	limitProbes := func(on bool) func(p *wasmchain.Plugin, cfg map[string]any) {
		return func(p *wasmchain.Plugin, cfg map[string]any) {
			if p.Name != "ratelimit" {
				return
			}
			cfg["tiers"].(map[string]any)["normal"] = map[string]any{"user": map[string]any{"rate": 1e6, "burst": 1e6}, "ip": map[string]any{"rate": 1e6, "burst": 1e6}}
			if on { // a User-Agent "probe" gets one request per 1000 s
				cfg["tiers"].(map[string]any)["probe"] = map[string]any{"ip": map[string]any{"rate": 0.001, "burst": 1}}
				cfg["rules"] = append([]any{map[string]any{"user_agent": []any{"probe"}, "tier": "probe"}}, cfg["rules"].([]any)...)
			}
		}
	}
	chain := writeChain(t, limitProbes(false))
	e := startEnv(t, t.TempDir(), nil, pluginArgs(chain)...)
	a := register(t, e, inForm, "reload", "pw")
	q := vals("user_id", a.id64(), "token", a.token)
	probe := http.Header{"User-Agent": {"probe/1.0"}}

	stop := make(chan struct{})
	var (
		wg             sync.WaitGroup
		served, failed atomic.Int64
		firstFailure   atomic.Value
		stopOnce       sync.Once
	)
	stopLoad := func() { stopOnce.Do(func() { close(stop); wg.Wait() }) }
	defer stopLoad()
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := e.c.tryGet("/douyin/favorite/list/", q)
				if err == nil && r.StatusCode != 0 {
					err = fmt.Errorf("status %d %q", r.StatusCode, r.StatusMsg)
				}
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				served.Add(1)
			}
		})
	}
	swap := func(edit func(*wasmchain.Plugin, map[string]any)) {
		t.Helper()
		gen := metric(t, e, "tremolo_wasm_chain_generation")
		next := writeChain(t, edit)
		b, err := os.ReadFile(next)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(chain, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(15 * time.Second); metric(t, e, "tremolo_wasm_chain_generation") == gen; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the changed chain file was not loaded within 15 s")
			}
		}
	}
	for range 2 { // probes pass twice: no limit for them yet
		if r, _, _ := getWith(t, e, "/douyin/favorite/list/", q, probe); r.StatusCode != 0 {
			t.Fatalf("probe before the reload: %s", r.raw)
		}
	}
	swap(limitProbes(true))
	getWith(t, e, "/douyin/favorite/list/", q, probe)
	if r, _, _ := getWith(t, e, "/douyin/favorite/list/", q, probe); r.StatusCode != 1008 {
		t.Fatalf("probe after the reload: %s; want 1008: the new limits do not apply", r.raw)
	}
	swap(limitProbes(false))

	// A chain file naming a module that is not WebAssembly: refused, and the
	// running chain keeps serving.
	errorsBefore := metric(t, e, "tremolo_wasm_chain_reloads_total", `result="error"`)
	raw, err := os.ReadFile(chain)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(filepath.Dir(chain), "not-wasm.wasm")
	if err := os.WriteFile(bad, []byte("this is not a WebAssembly module"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The default chain runs its plugins bundled: bundle.wasm is the module
	// it loads.
	broken := regexp.MustCompile(`\S*/bundle\.wasm`).ReplaceAllString(string(raw), bad)
	if broken == string(raw) {
		t.Fatal("the chain file does not name bundle.wasm")
	}
	if err := os.WriteFile(chain, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); metric(t, e, "tremolo_wasm_chain_reloads_total", `result="error"`) == errorsBefore; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the broken chain file was not tried within 15 s")
		}
	}
	time.Sleep(200 * time.Millisecond) // requests keep flowing on the old chain
	stopLoad()
	if served.Load() == 0 || failed.Load() != 0 {
		t.Fatalf("during reloads: %d served, %d failed (first: %v)", served.Load(), failed.Load(), firstFailure.Load())
	}
	t.Logf("%d requests served across 2 reloads and a refused one", served.Load())
}

// With -edge-redis, two edges share their rate limits: a client's budget
// per IP holds across replicas, not per replica.
func TestRateLimitsHoldAcrossEdgesWithRedis(t *testing.T) {
	rds := redistest.Start(t)
	chain := writeChain(t, func(p *wasmchain.Plugin, cfg map[string]any) {
		if p.Name == "ratelimit" {
			cfg["tiers"].(map[string]any)["normal"] = map[string]any{
				"user": map[string]any{"rate": 1e6, "burst": 1e6},
				"ip":   map[string]any{"rate": 0.01, "burst": 4},
			}
		}
	})
	args := append(pluginArgs(chain), "-edge-redis", rds.Addr)
	a := startEnv(t, t.TempDir(), nil, args...)
	b := startEnv(t, t.TempDir(), nil, args...)
	codes := []int32{}
	for _, e := range []*env{a, b, a, b, a, b} {
		r, _, _ := getWith(t, e, "/douyin/feed/", nil, nil)
		codes = append(codes, r.StatusCode)
	}
	if fmt.Sprint(codes) != "[0 0 0 0 1008 1008]" {
		t.Fatalf("statuses across two edges sharing a budget of 4 per IP: %v; want [0 0 0 0 1008 1008]", codes)
	}
}
