// Command edge measures the Douyin edge as the app uses it, against a bare
// net/http "hello" server measured in the same run:
//
//   - the feed route (30 videos, token present) under load, in req/s and
//     p50/p99 latency, alternating rounds with the hello server;
//   - the publish route's throughput with 5 MB files, and the server
//     process's peak RSS while publishing (VmHWM from /proc).
//
// Both servers run as separate processes (the all-in-one binary, built
// here with `go build`, and this program re-executed as the hello server),
// so the load driver's own CPU use is outside both.
//
// The load driver is this program's own net/http client (-driver go, the
// default) or wrk (-driver wrk, Debian's wrk, which tools/setup.sh
// installs). wrk spends far less CPU per request than a Go client, so more
// of the two cores go to the server under test; it cannot read the
// envelope, so the feed's answer is checked before and after each round.
//
// -middleware lists the edge middlewares to measure, each in an all-in-one
// process of its own, alternating with the others and hello: native (the
// token check in Go, the default), wasm (the plugin chain, built with
// wasm-plugins/build.sh, rate limits raised above the load, its plugins in
// one module as wasm-plugins/chain.yaml bundles them), modules (the same
// chain with each plugin a module of its own) and go (the same chain's
// plugins compiled in): wasm against go is what the plugins cost for being
// WebAssembly.
//
//	go run ./tools/bench/edge -duration 10s -rounds 3 -conns 32
//	go run ./tools/bench/edge -driver wrk -duration 10s -rounds 3 -conns 32
//	go run ./tools/bench/edge -middleware wasm,go,native -duration 5s -rounds 3
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/tremolo-dev/tremolo/platform/wasmchain"
	"github.com/tremolo-dev/tremolo/services/video/videotest"
)

func main() {
	if addr := os.Getenv("TREMOLO_BENCH_HELLO"); addr != "" {
		serveHello(addr)
		return
	}
	duration := flag.Duration("duration", 10*time.Second, "length of each measured run")
	rounds := flag.Int("rounds", 3, "runs per server, alternating")
	conns := flag.Int("conns", 32, "concurrent connections of the load driver")
	uploads := flag.Int("uploads", 10, "5 MB videos to publish for the throughput figure")
	driver := flag.String("driver", "go", "load driver: go (this program's net/http client) or wrk")
	middlewares := flag.String("middleware", "native", "edge middlewares to measure, comma-separated, each in its own all-in-one process: native (token check in Go), wasm (the plugin chain, bundled as wasm-plugins/chain.yaml says), modules (the same chain, a module per plugin), go (the chain's plugins compiled in)")
	withCluster := flag.Bool("cluster", false, "also measure the distributed mode (tools/cluster: etcd, every service as a process, the feed twice) with the first -middleware; its server CPU is every process's")
	tracingCost := flag.Bool("tracing-cost", false, "also measure an all-in-one with -tracing=false (first -middleware), for the cost of tracing")
	serverArgs := flag.String("server-args", "", "extra flags for the all-in-one server, space-separated (e.g. \"-feed-page-ttl=0 -local-loopback\" to measure without the shared page and in-process calls)")
	flag.Parse()
	for _, mw := range strings.Split(*middlewares, ",") {
		if mw != "native" && mw != "wasm" && mw != "modules" && mw != "go" {
			fmt.Fprintf(os.Stderr, "edge bench: -middleware %q: want native, wasm, modules or go\n", mw)
			os.Exit(2)
		}
	}
	if *driver != "go" && *driver != "wrk" {
		fmt.Fprintf(os.Stderr, "edge bench: -driver %q: want go or wrk\n", *driver)
		os.Exit(2)
	}
	extra := extras{cluster: *withCluster, tracingOff: *tracingCost}
	if err := run(*driver, *duration, *rounds, *conns, *uploads, strings.Split(*middlewares, ","), strings.Fields(*serverArgs), extra); err != nil {
		fmt.Fprintln(os.Stderr, "edge bench:", err)
		os.Exit(1)
	}
}

func serveHello(addr string) {
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) })
	fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, nil))
	os.Exit(1)
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// extras are the targets measured besides one all-in-one per middleware.
type extras struct {
	cluster    bool // the distributed mode
	tracingOff bool // an all-in-one with -tracing=false
}

func run(driver string, duration time.Duration, rounds, conns, uploads int, middlewares, serverArgs []string, extra extras) error {
	dir, err := os.MkdirTemp("", "tremolo-edge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "tremolo")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/tremolo").CombinedOutput(); err != nil {
		return fmt.Errorf("building cmd/tremolo (run from the repository root): %v\n%s", err, out)
	}
	chain := ""
	if slices.ContainsFunc(middlewares, func(m string) bool { return m != "native" }) {
		if chain, err = benchChain(dir); err != nil {
			return err
		}
	}

	helloAddr := freeAddr()
	self, _ := os.Executable()
	hello := exec.Command(self)
	hello.Env = append(os.Environ(), "TREMOLO_BENCH_HELLO="+helloAddr)
	if err := hello.Start(); err != nil {
		return err
	}
	defer func() { _ = hello.Process.Kill(); _ = hello.Wait() }()
	if err := waitReady("http://" + helloAddr + "/"); err != nil {
		return err
	}
	targets := []target{{name: "hello", url: "http://" + helloAddr + "/", pid: []int{hello.Process.Pid}}}

	var (
		pubElapsed time.Duration
		peak       int64
		file       = videotest.Sized(5 << 20)
	)
	for i, mw := range middlewares {
		args := append(edgeArgs(mw, chain, dir, "wasm-cache"), serverArgs...)
		srv, err := startEdge(bin, filepath.Join(dir, "data-"+mw), args)
		if err != nil {
			return err
		}
		defer srv.stop()
		if i == 0 {
			// Publish throughput and peak RSS first, so that VmHWM
			// reflects start-up plus publishing.
			if pubElapsed, err = publishMany(srv.base, uploads, file); err != nil {
				return err
			}
			peak = vmHWM(srv.cmd.Process.Pid)
		}
		feedURL, err := seedFeed(srv.base)
		if err != nil {
			return err
		}
		targets = append(targets, target{name: "feed/" + mw, url: feedURL, pid: []int{srv.cmd.Process.Pid}, base: srv.base})
	}

	if extra.tracingOff {
		mw := middlewares[0]
		args := append(append(edgeArgs(mw, chain, dir, "wasm-cache"), "-tracing=false"), serverArgs...)
		srv, err := startEdge(bin, filepath.Join(dir, "data-notrace"), args)
		if err != nil {
			return err
		}
		defer srv.stop()
		feedURL, err := seedFeed(srv.base)
		if err != nil {
			return err
		}
		targets = append(targets, target{name: "feed/" + mw + ",no-tracing", url: feedURL, pid: []int{srv.cmd.Process.Pid}, base: srv.base})
	}
	if extra.cluster {
		t, stop, err := startCluster(dir, middlewares[0], chain, serverArgs)
		if err != nil {
			return err
		}
		defer stop()
		targets = append(targets, t)
	}

	if os.Getenv("TREMOLO_BENCH_PROFILE") != "" {
		profile(targets[1], conns)
	}
	results := map[string][]result{}
	for r := 0; r < rounds; r++ {
		for _, t := range targets {
			var res result
			if driver == "wrk" {
				if res, err = loadWrk(t.url, duration, conns, t.pid); err == nil && t.name != "hello" {
					err = checkFeed(t.url)
				}
				if err != nil {
					return err
				}
			} else {
				res = load(t.url, duration, conns, t.pid)
			}
			results[t.name] = append(results[t.name], res)
			fmt.Printf("round %d  %-12s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  server CPU %6.1f µs/req  driver CPU %6.1f µs/req  %6d B/resp  errors %d\n", r+1, t.name, res.qps, ms(res.p50), ms(res.p99), us(res.cpu), us(res.driver), res.size, res.errors)
		}
	}
	h := median(results["hello"])
	fmt.Printf("\nmedian of %d rounds, %s each, %d connections, driver %s, server flags %q\n", rounds, duration, conns, driver, serverArgs)
	fmt.Printf("| server | req/s | p50 ms | p99 ms | server CPU µs/req | driver CPU µs/req | req/s against hello |\n|---|---|---|---|---|---|---|\n")
	fmt.Printf("| net/http hello (baseline) | %.0f | %.2f | %.2f | %.1f | %.1f | 1 |\n", h.qps, ms(h.p50), ms(h.p99), us(h.cpu), us(h.driver))
	feeds := map[string]result{}
	for _, mw := range middlewares {
		f := median(results["feed/"+mw])
		feeds[mw] = f
		fmt.Printf("| edge /douyin/feed/ (30 videos, token), -edge-middleware=%s | %.0f | %.2f | %.2f | %.1f | %.1f | %.3f |\n", mw, f.qps, ms(f.p50), ms(f.p99), us(f.cpu), us(f.driver), f.qps/h.qps)
	}
	for _, t := range targets[1+len(middlewares):] {
		f := median(results[t.name])
		base := feeds[middlewares[0]]
		fmt.Printf("| edge /douyin/feed/ (30 videos, token), %s | %.0f | %.2f | %.2f | %.1f | %.1f | %.3f |\n", t.name, f.qps, ms(f.p50), ms(f.p99), us(f.cpu), us(f.driver), f.qps/h.qps)
		fmt.Printf("ratio %s / feed/%s: %.3f req/s, server CPU %+.1f µs/req\n", t.name, middlewares[0], f.qps/base.qps, us(f.cpu-base.cpu))
	}
	for _, pair := range [][2]string{{"wasm", "go"}, {"modules", "go"}, {"wasm", "modules"}, {"wasm", "native"}, {"go", "native"}} {
		a, okA := feeds[pair[0]]
		b, okB := feeds[pair[1]]
		if okA && okB {
			fmt.Printf("ratio %s / %s: %.3f req/s, server CPU %+.1f µs/req\n", pair[0], pair[1], a.qps/b.qps, us(a.cpu-b.cpu))
		}
	}
	for _, t := range targets {
		if strings.HasSuffix(t.name, "/wasm") || strings.HasSuffix(t.name, "/modules") {
			if err := printWarmUp(t.base); err != nil {
				return err
			}
		}
	}
	mb := float64(uploads*len(file)) / (1 << 20)
	fmt.Printf("\npublish (-edge-middleware=%s): %d x 5 MB in %s = %.1f MB/s, %.1f uploads/s; server peak RSS %.1f MB\n",
		middlewares[0], uploads, pubElapsed.Round(time.Millisecond), mb/pubElapsed.Seconds(), float64(uploads)/pubElapsed.Seconds(), float64(peak)/(1<<20))
	return nil
}

// target is a server under load: hello, or an edge's feed.
type target struct {
	name, url string
	pid       []int  // the processes serving it: one, or a whole cluster
	base      string // an edge's http://host:port
}

// edgeServer is a running all-in-one process.
type edgeServer struct {
	cmd  *exec.Cmd
	base string
}

func (s *edgeServer) stop() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() }

// startEdge starts the all-in-one binary on dataDir with args and waits
// until it is ready.
func startEdge(bin, dataDir string, args []string) (*edgeServer, error) {
	addr := freeAddr()
	cmd := exec.Command(bin, append([]string{"-http-addr", addr, "-grpc-addr", freeAddr(), "-data-dir", dataDir,
		"-seed-demo=false", "-log-level", "warn", "-debug-pprof", "-jwt-key", "bench-key-bench-key-bench-key-bench-key"}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &edgeServer{cmd: cmd, base: "http://" + addr}
	if err := waitReady(s.base + "/readyz"); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// publishMany publishes n videos as one author and returns the time taken.
func publishMany(base string, n int, file []byte) (time.Duration, error) {
	author, err := register(base, "author")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := publish(base, author.token, fmt.Sprintf("upload %d", i), file); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// seedFeed makes a full feed page: thirty small videos by six authors. The
// viewer follows two of the authors and likes every third video, so the
// page the viewer gets differs from the shared one in both flags. It
// returns the viewer's feed URL.
func seedFeed(base string) (string, error) {
	viewer, err := register(base, "viewer")
	if err != nil {
		return "", err
	}
	for a := 0; a < 6; a++ {
		who, err := register(base, fmt.Sprintf("author%d", a))
		if err != nil {
			return "", err
		}
		for i := 0; i < 5; i++ {
			if err := publish(base, who.token, fmt.Sprintf("feed %d-%d", a, i), videotest.MP4()); err != nil {
				return "", err
			}
		}
		if a < 2 {
			if err := action(base, "/douyin/relation/action/", url.Values{"token": {viewer.token}, "to_user_id": {strconv.FormatInt(who.id, 10)}, "action_type": {"1"}}); err != nil {
				return "", err
			}
		}
	}
	feedURL := base + "/douyin/feed/?token=" + viewer.token
	page, err := call(mustGet(feedURL))
	if err != nil || len(page.VideoList) != 30 {
		return "", fmt.Errorf("the feed has %d videos (%v); want 30", len(page.VideoList), err)
	}
	for i := 0; i < 30; i += 3 {
		if err := action(base, "/douyin/favorite/action/", url.Values{"token": {viewer.token}, "video_id": {strconv.FormatInt(page.VideoList[i].ID, 10)}, "action_type": {"1"}}); err != nil {
			return "", err
		}
	}
	return feedURL, nil
}

// profile writes an 8-second CPU profile of t's server under feed load to
// $TREMOLO_BENCH_PROFILE, and what it allocated to <file>.allocs (for go
// tool pprof -sample_index=alloc_objects).
func profile(t target, conns int) {
	out := os.Getenv("TREMOLO_BENCH_PROFILE")
	go func() {
		resp, err := http.Get(t.base + "/debug/pprof/profile?seconds=8")
		if err == nil {
			f, _ := os.Create(out)
			_, _ = io.Copy(f, resp.Body)
			f.Close()
			resp.Body.Close()
		}
	}()
	load(t.url, 9*time.Second, conns, t.pid)
	if resp, err := http.Get(t.base + "/debug/pprof/allocs"); err == nil {
		f, _ := os.Create(out + ".allocs")
		_, _ = io.Copy(f, resp.Body)
		f.Close()
		resp.Body.Close()
	}
}

// edgeArgs are the all-in-one's flags for the edge middleware mw (see
// -middleware) with the bench chain file chain (benchChain).
func edgeArgs(mw, chain, dir, cache string) []string {
	switch mw {
	case "native":
		return []string{"-edge-middleware", "native"}
	case "modules":
		chain = modulesChain(chain)
		mw = "wasm"
	}
	return []string{"-edge-middleware", mw, "-edge-plugins", chain, "-edge-plugins-cache", filepath.Join(dir, cache)}
}

// modulesChain is the path of the bench chain file without its bundle.
func modulesChain(chain string) string { return strings.TrimSuffix(chain, ".yaml") + "-modules.yaml" }

// benchChain builds the plugins (wasm-plugins/build.sh) into dir/plugins
// and writes dir/chain.yaml: the default chain, naming those modules, with
// rate limits far above the load (the benchmark's one viewer would
// otherwise be refused after a few requests; the buckets are still taken),
// and beside it the same chain without its bundle (modulesChain).
func benchChain(dir string) (string, error) {
	plugins := filepath.Join(dir, "plugins")
	if out, err := exec.Command("bash", "wasm-plugins/build.sh", plugins).CombinedOutput(); err != nil {
		return "", fmt.Errorf("wasm-plugins/build.sh: %v\n%s", err, out)
	}
	raw, err := os.ReadFile("wasm-plugins/chain.yaml")
	if err != nil {
		return "", err
	}
	var f wasmchain.File
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		return "", fmt.Errorf("wasm-plugins/chain.yaml: %w", err)
	}
	for i := range f.Plugins {
		p := &f.Plugins[i]
		p.Wasm = filepath.Join(plugins, filepath.Base(p.Wasm))
		if p.Name == "ratelimit" {
			var cfg map[string]any
			if err := json.Unmarshal(p.Config, &cfg); err != nil {
				return "", err
			}
			cfg["tiers"].(map[string]any)["normal"] = map[string]any{
				"user": map[string]any{"rate": 1e9, "burst": 1e9},
				"ip":   map[string]any{"rate": 1e9, "burst": 1e9},
			}
			if p.Config, err = json.Marshal(cfg); err != nil {
				return "", err
			}
		}
	}
	if f.Bundle == nil {
		return "", fmt.Errorf("wasm-plugins/chain.yaml has no bundle: the wasm and modules rows would be the same chain")
	}
	f.Bundle.Wasm = filepath.Join(plugins, filepath.Base(f.Bundle.Wasm))
	path := filepath.Join(dir, "chain.yaml")
	if err := writeYAML(path, f); err != nil {
		return "", err
	}
	f.Bundle = nil
	return path, writeYAML(modulesChain(path), f)
}

func writeYAML(path string, v any) error {
	out, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// printWarmUp prints how long each plugin's warm instances took to create
// when the edge at base loaded its chain (tremolo_wasm_warmup_seconds).
func printWarmUp(base string) error {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	fmt.Printf("\nplugin warm-up (tremolo_wasm_warmup_seconds, all warm instances of a plugin):\n")
	sums, counts := map[string]float64{}, map[string]float64{}
	var instances []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "tremolo_wasm_warmup_seconds{") {
			fmt.Println("  " + line)
		}
		for _, counter := range []string{"tremolo_wasm_instances_created_total{", "tremolo_wasm_instances_discarded_total{", "tremolo_wasm_pool_waits_total{"} {
			if strings.HasPrefix(line, counter) {
				instances = append(instances, line)
			}
		}
		for suffix, into := range map[string]map[string]float64{"_sum{": sums, "_count{": counts} {
			if rest, ok := strings.CutPrefix(line, "tremolo_wasm_call_duration_seconds"+suffix); ok {
				labels, value, _ := strings.Cut(rest, "} ")
				into[labels], _ = strconv.ParseFloat(value, 64)
			}
		}
	}
	fmt.Printf("instances over the whole run:\n")
	for _, line := range instances {
		fmt.Println("  " + line)
	}
	fmt.Printf("mean time per plugin call in the edge, over the whole run (tremolo_wasm_call_duration_seconds):\n")
	for _, labels := range slices.Sorted(maps.Keys(counts)) {
		if counts[labels] > 0 {
			fmt.Printf("  %s: %.1f µs over %.0f calls\n", labels, sums[labels]/counts[labels]*1e6, counts[labels])
		}
	}
	return nil
}

func waitReady(urls ...string) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range urls {
		for {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not ready: %v", u, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

type account struct {
	id    int64
	token string
}

type envelope struct {
	StatusCode int32  `json:"status_code"`
	StatusMsg  string `json:"status_msg"`
	UserID     int64  `json:"user_id"`
	Token      string `json:"token"`
	VideoList  []struct {
		ID int64 `json:"id"`
	} `json:"video_list"`
}

func call(req *http.Request) (envelope, error) {
	var e envelope
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return e, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return e, err
	}
	if e.StatusCode != 0 {
		return e, fmt.Errorf("%s: status %d: %s", req.URL.Path, e.StatusCode, e.StatusMsg)
	}
	return e, nil
}

func register(base, name string) (account, error) {
	req, _ := http.NewRequest("POST", base+"/douyin/user/register/", strings.NewReader(url.Values{"username": {name}, "password": {"bench"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	e, err := call(req)
	return account{id: e.UserID, token: e.Token}, err
}

func action(base, path string, v url.Values) error {
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err := call(req)
	return err
}

func publish(base, token, title string, data []byte) error {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("token", token)
	_ = w.WriteField("title", title)
	fw, _ := w.CreateFormFile("data", "video.mp4")
	_, _ = fw.Write(data)
	_ = w.Close()
	req, _ := http.NewRequest("POST", base+"/douyin/publish/action/", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	_, err := call(req)
	return err
}

func mustGet(u string) *http.Request {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		panic(err)
	}
	return req
}

// vmHWM returns the peak resident set size of a process, in bytes.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

type result struct {
	qps      float64
	p50, p99 time.Duration
	cpu      time.Duration // the server's CPU time (user+system) per request
	driver   time.Duration // the load driver's own CPU time per request
	size     int64         // mean response body, bytes
	errors   int64
}

// cpuTime returns a process's CPU time so far (user and system), from
// /proc/<pid>/stat in clock ticks of 10 ms.
func cpuTime(pids ...int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		total += cpuTime1(pid)
	}
	return total
}

func cpuTime1(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// load sends GETs on conns keep-alive connections for duration; a response
// that is not 200 or whose body does not say status_code 0 (for the edge)
// counts as an error. pid is the server's, whose CPU time per request is
// measured too: a figure that holds when other work shares the machine.
// okPrefix starts every successful envelope the edge writes.
var okPrefix = []byte(`{"status_code":0,`)

func load(u string, duration time.Duration, conns int, pid []int) result {
	// A feed page is tens of kilobytes: a read buffer that holds one whole
	// takes it in one read(2) instead of one per 4 KiB.
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, ReadBufferSize: 64 << 10}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	var (
		wg        sync.WaitGroup
		errs      atomic.Int64
		bytesRead atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
	)
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	cpu0, driver0 := cpuTime(pid...), cpuTime(os.Getpid())
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			// The driver shares the machine's two cores with the server, so
			// it reads each response into buffers it reuses and looks only
			// at the envelope's first field (the edge always writes
			// status_code first) instead of allocating and searching every
			// body: that left more CPU for the server under test.
			head := make([]byte, len(okPrefix))
			for ctx.Err() == nil {
				t0 := time.Now()
				resp, err := client.Get(u)
				if err != nil {
					errs.Add(1)
					continue
				}
				n, err := io.ReadFull(resp.Body, head)
				if err == io.ErrUnexpectedEOF || err == io.EOF {
					err = nil // a body shorter than the prefix: hello's
				}
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body) // pooled buffers
				}
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || bytes.HasPrefix(head[:n], []byte(`{"status_code":`)) && !bytes.Equal(head[:n], okPrefix) {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
				bytesRead.Add(resp.ContentLength)
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu, driver := cpuTime(pid...)-cpu0, cpuTime(os.Getpid())-driver0
	slices.Sort(latencies)
	if len(latencies) == 0 {
		return result{errors: errs.Load()}
	}
	return result{qps: float64(len(latencies)) / elapsed.Seconds(), p50: latencies[len(latencies)/2], p99: latencies[len(latencies)*99/100],
		cpu: cpu / time.Duration(len(latencies)), driver: driver / time.Duration(len(latencies)), size: bytesRead.Load() / int64(len(latencies)), errors: errs.Load()}
}

func median(rs []result) result {
	slices.SortFunc(rs, func(a, b result) int {
		switch {
		case a.qps < b.qps:
			return -1
		case a.qps > b.qps:
			return 1
		}
		return 0
	})
	return rs[len(rs)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadWrk runs wrk on u for duration with conns connections on two threads
// and reads its summary. Errors are wrk's socket errors and non-2xx
// responses; the size per response includes the headers.
func loadWrk(u string, duration time.Duration, conns int, pid []int) (result, error) {
	cpu0 := cpuTime(pid...)
	cmd := exec.Command("wrk", "-t2", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(int(duration.Seconds()))+"s", "--latency", u)
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("wrk on %s: %w (is wrk installed? tools/setup.sh installs it)", u, err)
	}
	cpu := cpuTime(pid...) - cpu0
	var res result
	var requests, readBytes float64
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			res.qps, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "50%":
			res.p50 = wrkDuration(f[1])
		case len(f) == 2 && f[0] == "99%":
			res.p99 = wrkDuration(f[1])
		case len(f) >= 5 && f[1] == "requests" && f[2] == "in":
			requests, _ = strconv.ParseFloat(f[0], 64)
			readBytes = wrkBytes(strings.TrimSuffix(f[4], ","))
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			n, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			res.errors += n
		case strings.HasPrefix(strings.TrimSpace(line), "Socket errors:"):
			for _, v := range f[2:] {
				if n, err := strconv.ParseInt(strings.TrimSuffix(v, ","), 10, 64); err == nil {
					res.errors += n
				}
			}
		}
	}
	if res.qps == 0 || requests == 0 {
		return result{}, fmt.Errorf("wrk on %s: no figures in its output:\n%s", u, out)
	}
	res.cpu = time.Duration(float64(cpu) / requests)
	if st := cmd.ProcessState; st != nil {
		res.driver = time.Duration(float64(st.UserTime()+st.SystemTime()) / requests)
	}
	res.size = int64(readBytes / requests)
	return res, nil
}

// wrkDuration parses wrk's "317.00us", "5.03ms" or "1.20s".
func wrkDuration(s string) time.Duration {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return time.Duration(f * float64(u.unit))
		}
	}
	return 0
}

// wrkBytes parses wrk's "7.02GB", "512.00KB" or "100B".
func wrkBytes(s string) float64 {
	for _, u := range []struct {
		suffix string
		unit   float64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f * u.unit
		}
	}
	return 0
}

// checkFeed fails unless the feed answers u with status_code 0: wrk counts
// HTTP statuses only, and the edge says its errors with HTTP 200.
func checkFeed(u string) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	head := make([]byte, len(okPrefix))
	if _, err := io.ReadFull(resp.Body, head); err != nil || !bytes.Equal(head, okPrefix) {
		return fmt.Errorf("feed at %s did not answer status_code 0 (%q, %v)", u, head, err)
	}
	return nil
}
