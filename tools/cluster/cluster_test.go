package cluster_test

// The distributed mode's integration tests: one cluster for the whole test
// binary (a real etcd, every service as its own process, two feed replicas
// and a canary feed started here, the edge), driven over the app's HTTP API
// on loopback, governed through etcd's dynamic configuration, and watched
// through etcd's registry keys, the processes' /metrics and an OTLP
// collector in this process.
//
// The tests run in file order and share the cluster; each leaves the
// dynamic configuration as it found it, except the last, which kills a
// feed replica.

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/discovery"
	"github.com/tremolo-dev/tremolo/services/video/videotest"
	"github.com/tremolo-dev/tremolo/tools/cluster"
)

// ttl is the registry lease the processes run with (-registry-ttl).
const ttl = 2 * time.Second

// The canary feed's instance metadata.
const (
	canaryVersion = "2.0.0"
	canaryTrack   = "canary"
)

// env is the cluster the tests share.
type env struct {
	dir  string
	c    *cluster.Cluster
	api  *api
	otlp *collector

	canary     *exec.Cmd
	canaryLog  string
	canaryHTTP string
	canaryGRPC string
	canaryDone chan struct{}

	// How long after Start returned every service was in etcd, and when
	// each key was first seen (polled from before the start).
	regWait time.Duration
	regErr  error
	keys    *keyWatch
}

var (
	shared     *env
	skipReason string
	setupErr   error
)

// need returns the shared cluster, or skips or fails t when there is none.
func need(t *testing.T) *env {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if setupErr != nil {
		t.Fatalf("cluster setup: %v", setupErr)
	}
	return shared
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		skipReason = "the distributed-mode tests start a real cluster (etcd and ten processes); not with -short"
		return m.Run()
	}
	if _, err := os.Stat(cluster.EtcdBinary); err != nil {
		skipReason = fmt.Sprintf("etcd is not installed at %s (apt-get install etcd-server): %v", cluster.EtcdBinary, err)
		return m.Run()
	}
	if os.Getenv("TEST_SRCDIR") != "" {
		// Under bazel test there is no go command and no repository to
		// build the services from; `go test ./tools/cluster` (make test)
		// runs these.
		skipReason = "the distributed-mode tests build the services with the go command; they run under go test, not bazel test"
		return m.Run()
	}
	began := time.Now()
	e, err := setup()
	if err != nil {
		setupErr = err
	}
	shared = e
	code := m.Run()
	if e != nil {
		e.teardown()
		if code != 0 || setupErr != nil || os.Getenv("TREMOLO_CLUSTER_KEEP") != "" {
			fmt.Fprintf(os.Stderr, "cluster test: logs kept in %s\n", filepath.Join(e.dir, "logs"))
		} else {
			_ = os.RemoveAll(e.dir)
		}
	}
	fmt.Fprintf(os.Stderr, "cluster test: %v in all\n", time.Since(began).Round(time.Millisecond))
	return code
}

func setup() (*env, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo, err := repoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tremolo-cluster-test-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir}
	t0 := time.Now()
	if err := cluster.Build(ctx, repo, dir); err != nil {
		return e, err
	}
	fmt.Fprintf(os.Stderr, "cluster test: built the binaries in %v\n", time.Since(t0).Round(time.Millisecond))

	if e.otlp, err = startCollector(); err != nil {
		return e, err
	}
	// The processes inherit the environment: export span batches every
	// 200 ms instead of the SDK's 5 s, so that a trace arrives quickly.
	os.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200")

	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return e, err
		}
	}
	args := []string{"-otlp-endpoint", e.otlp.addr, "-registry-ttl", ttl.String(), "-log-level", "info"}
	opts := cluster.Options{
		Dir:          dir,
		RepoRoot:     repo,
		EdgeAddr:     "127.0.0.1:" + strconv.Itoa(ports[0]),
		MediaAddr:    "127.0.0.1:" + strconv.Itoa(ports[1]),
		EtcdPort:     ports[2],
		EtcdPeerPort: ports[3],
		Replicas:     map[string]int{"feed": 2},
		Args:         args,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	// Every key's first appearance, from before the processes start.
	e.keys = watchKeys("http://127.0.0.1:"+strconv.Itoa(opts.EtcdPort), "127.0.0.1:"+strconv.Itoa(opts.EtcdPort))
	defer e.keys.stop()
	t0 = time.Now()
	if e.c, err = cluster.Start(ctx, opts); err != nil {
		return e, err
	}
	started := time.Now()
	fmt.Fprintf(os.Stderr, "cluster test: cluster ready in %v\n", started.Sub(t0).Round(time.Millisecond))
	e.api = newAPI(e.c.EdgeURL)

	cli, err := e.c.Etcd()
	if err != nil {
		return e, err
	}
	defer cli.Close()
	// Registration is checked by TestRegistration; here it is only timed.
	e.regWait, e.regErr = eventually(10*time.Second, 10*time.Millisecond, func() (bool, error) {
		insts, err := listInstances(ctx, cli)
		if err != nil {
			return false, err
		}
		return missing(insts, 2) == "", fmt.Errorf("%s", missing(insts, 2))
	})

	// The canary feed: the built binary with the cluster's common flags,
	// marked gray. ServiceArgs apply to every replica, so it is started
	// here rather than by the cluster.
	if err := e.startCanary(repo, opts); err != nil {
		return e, err
	}
	waited, err := eventually(30*time.Second, 10*time.Millisecond, func() (bool, error) {
		select {
		case <-e.canaryDone:
			return false, fmt.Errorf("the canary feed exited (log %s)", e.canaryLog)
		default:
		}
		_, h, ok := servingAddrs(e.canaryLog)
		return ok && h != "", nil
	})
	if err != nil {
		return e, fmt.Errorf("canary feed: %w", err)
	}
	e.canaryGRPC, e.canaryHTTP, _ = servingAddrs(e.canaryLog)
	fmt.Fprintf(os.Stderr, "cluster test: canary feed serving in %v on %s (http %s)\n", waited.Round(time.Millisecond), e.canaryGRPC, e.canaryHTTP)
	if _, err = eventually(10*time.Second, 10*time.Millisecond, func() (bool, error) {
		_, _, ok := e.keys.firstSeen(e.canaryGRPC)
		return ok, nil
	}); err != nil {
		return e, fmt.Errorf("canary feed registration: %w", err)
	}

	// The edge's plugin chain limits a client IP to 100 requests a second
	// (wasm-plugins/chain.yaml); every request here comes from 127.0.0.1.
	if err := e.setPlugins(ctx, false); err != nil {
		return e, err
	}
	return e, nil
}

// missing says which services are not (fully) in insts; feeds is how
// many feed instances are expected.
func missing(insts map[string][]registered, feeds int) string {
	var out []string
	for _, s := range cluster.Services {
		want := 1
		if s == "feed" {
			want = feeds
		}
		if n := len(insts[s]); n < want {
			out = append(out, fmt.Sprintf("%s: %d of %d", s, n, want))
		}
	}
	return strings.Join(out, ", ")
}

func (e *env) startCanary(repo string, opts cluster.Options) error {
	args := []string{
		"-registry", "etcd",
		"-etcd-endpoints", e.c.EtcdEndpoint,
		"-config-source", "etcd", "-config-prefix", cluster.ConfigPrefix,
		"-grpc-addr", "127.0.0.1:0",
	}
	args = append(args, opts.Args...)
	args = append(args,
		"-data-dir", filepath.Join(e.dir, "feed-canary"),
		"-http-addr", "127.0.0.1:0",
		"-instance-version", canaryVersion,
		"-instance-labels", "track="+canaryTrack,
	)
	e.canaryLog = filepath.Join(e.dir, "logs", "feed-canary.log")
	f, err := os.OpenFile(e.canaryLog, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(e.dir, "bin", "feed"), args...)
	cmd.Dir = repo
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting the canary feed: %w", err)
	}
	e.canary, e.canaryDone = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(e.canaryDone)
	}()
	return nil
}

// teardown stops the canary (SIGTERM by PID, SIGKILL after 15 s), the
// cluster and the collector.
func (e *env) teardown() {
	if e.canary != nil {
		_ = syscall.Kill(e.canary.Process.Pid, syscall.SIGTERM)
		select {
		case <-e.canaryDone:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(e.canary.Process.Pid, syscall.SIGKILL)
			<-e.canaryDone
		}
	}
	if e.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := e.c.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "cluster test: stopping the cluster: %v\n", err)
		}
		cancel()
	}
	if e.otlp != nil {
		e.otlp.stop()
	}
}

// pluginsDoc is the edge's "plugins" document: rate limits high enough for
// the tests' load from one IP, and with gray, abrouting's versions with a
// canary arm (weight 0: only the override header reaches it) whose label
// is the canary's version.
func pluginsDoc(gray bool) string {
	doc := `ratelimit:
  tiers:
    normal:
      user: {rate: 100000, burst: 100000}
      ip: {rate: 100000, burst: 100000}
`
	if gray {
		doc += `abrouting:
  versions:
    - {name: stable, weight: 100, label: v1}
    - {name: canary, weight: 0, label: "` + canaryVersion + `"}
  override_header: X-Tremolo-Override
`
	}
	return doc
}

// overrideHeader forces the canary arm.
var overrideHeader = http.Header{"X-Tremolo-Override": {"version=canary"}}

// setPlugins puts the plugins document and waits until the edge applied it.
func (e *env) setPlugins(ctx context.Context, gray bool) error {
	return e.setConfig(ctx, "plugins", pluginsDoc(gray), "edge")
}

// setConfig puts (or, with an empty doc, deletes) a dynamic configuration
// document and waits until each of the named processes ("edge", "feed-1",
// "video", or "feed-canary") has applied it; a rejection is an error.
func (e *env) setConfig(ctx context.Context, name, doc string, procs ...string) error {
	addrs := make([]string, len(procs))
	applied := make([]float64, len(procs))
	for i, p := range procs {
		var err error
		if addrs[i], err = e.httpAddr(ctx, p); err != nil {
			return err
		}
		if applied[i], err = metric(ctx, addrs[i], "tremolo_dynconfig_applied_total", map[string]string{"name": name}); err != nil {
			return err
		}
	}
	rejected := make([]float64, len(procs))
	for i := range procs {
		rejected[i], _ = metric(ctx, addrs[i], "tremolo_dynconfig_rejected_total", map[string]string{"name": name})
	}
	if err := e.c.SetConfig(ctx, name, []byte(doc)); err != nil {
		return err
	}
	for i, p := range procs {
		if _, err := eventually(10*time.Second, 20*time.Millisecond, func() (bool, error) {
			if r, _ := metric(ctx, addrs[i], "tremolo_dynconfig_rejected_total", map[string]string{"name": name}); r > rejected[i] {
				return false, fmt.Errorf("%s rejected the %q document (see its log)", p, name)
			}
			v, err := metric(ctx, addrs[i], "tremolo_dynconfig_applied_total", map[string]string{"name": name})
			return v > applied[i], err
		}); err != nil {
			return fmt.Errorf("%s applying %q: %w", p, name, err)
		}
	}
	return nil
}

// httpAddr is the HTTP address (/metrics) of a process by name.
func (e *env) httpAddr(ctx context.Context, name string) (string, error) {
	if name == "feed-canary" {
		return e.canaryHTTP, nil
	}
	p := e.c.Process(name)
	if p == nil {
		return "", fmt.Errorf("no process %q", name)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, h, err := p.Addrs(ctx)
	return h, err
}

// users registers n accounts named prefix-i and returns their tokens.
func (e *env) users(t *testing.T, prefix string, n int) []string {
	t.Helper()
	var toks []string
	for i := range n {
		tok, err := e.api.register(fmt.Sprintf("%s-%d", prefix, i+1), "secret-password")
		mustNot(t, err, "register")
		toks = append(toks, tok)
	}
	return toks
}

// checkAlive fails t when a process of the cluster, or the canary, has
// exited (other than the ones named in expected).
func (e *env) checkAlive(t *testing.T, expected ...string) {
	t.Helper()
	for _, p := range e.c.Processes() {
		select {
		case <-p.Exited():
			if !slices.Contains(expected, p.Name) {
				t.Errorf("%s exited: %v (log %s)", p.Name, p.Err, p.Log)
			}
		default:
		}
	}
	select {
	case <-e.canaryDone:
		t.Errorf("the canary feed exited (log %s)", e.canaryLog)
	default:
	}
}

// 1. Every service is in etcd within a second of the cluster's start,
// feed three times (two replicas and the canary, with its metadata).
func TestRegistration(t *testing.T) {
	e := need(t)
	mustNot(t, e.regErr, "waiting for the services' keys")
	t.Logf("every service in etcd %v after Start returned (the edge's readiness)", e.regWait.Round(time.Millisecond))
	// Each process: from its "serving" log line to its key in etcd.
	logs := map[string]string{"feed-canary": e.canaryLog}
	for _, p := range e.c.Processes() {
		logs[p.Name] = p.Log
	}
	var slowest time.Duration
	for _, name := range slices.Sorted(maps.Keys(logs)) {
		g, _, served, ok := servingLine(logs[name])
		if !ok {
			t.Errorf("%s: no serving line in %s", name, logs[name])
			continue
		}
		seen, in, ok := e.keys.firstSeen(g)
		if !ok {
			t.Errorf("%s (gRPC %s): no key seen in etcd", name, g)
			continue
		}
		d := seen.Sub(served)
		slowest = max(slowest, d)
		t.Logf("%-11s key %s seen %v after its serving line", name, in.Key, d.Round(time.Millisecond))
		if d > time.Second {
			t.Errorf("%s registered %v after it served, want within 1s", name, d)
		}
	}
	t.Logf("slowest registration: %v (keys polled every 10ms)", slowest.Round(time.Millisecond))
	cli, err := e.c.Etcd()
	mustNot(t, err, "etcd client")
	defer cli.Close()
	insts, err := listInstances(context.Background(), cli)
	mustNot(t, err, "listing instances")
	if m := missing(insts, 3); m != "" {
		t.Errorf("missing in etcd: %s", m)
	}
	for _, svc := range slices.Sorted(maps.Keys(insts)) {
		var ids []string
		for _, in := range insts[svc] {
			if !strings.HasPrefix(in.Key, discovery.DefaultPrefix+svc+"/") {
				t.Errorf("instance %s/%s under key %s", svc, in.ID, in.Key)
			}
			ids = append(ids, in.ID)
		}
		t.Logf("%-9s %d: %s", svc, len(ids), strings.Join(ids, " "))
	}
	gray := 0
	for _, in := range insts["feed"] {
		if in.Addr == e.canaryGRPC {
			gray++
			if in.Version != canaryVersion || in.Labels["track"] != canaryTrack {
				t.Errorf("the canary's instance is %+v, want version %s and track=%s", in.Instance, canaryVersion, canaryTrack)
			}
		} else if in.Version != "" || in.Labels["track"] != "" {
			t.Errorf("a stable feed instance carries gray metadata: %+v", in.Instance)
		}
	}
	if gray != 1 || len(insts["feed"]) != 3 {
		t.Errorf("feed instances: %d, of which %d the canary; want 3 and 1", len(insts["feed"]), gray)
	}
}

// 2. One request's spans reach the collector from the edge, the feed, the
// video and the user services, under the trace id the edge answered with.
func TestTraceAcrossProcesses(t *testing.T) {
	e := need(t)
	tok := e.users(t, "tracer", 1)[0]
	mustNot(t, e.api.publish(tok, "traced video", videotest.MP4()), "publish")
	// latest_time a little after the upload and before now: an older page
	// than the newest, which the feed builds for the request (the newest
	// is shared between requests for a second, and a cached one would not
	// call video and user again).
	time.Sleep(20 * time.Millisecond)
	q := url.Values{"latest_time": {strconv.FormatInt(time.Now().UnixMilli()-1, 10)}}
	r, hdr, err := e.api.feed(context.Background(), tok, q, nil)
	mustNot(t, err, "feed")
	if r.StatusCode != 0 || len(r.VideoList) == 0 {
		t.Fatalf("feed: status %d %q, %d videos; want success with videos", r.StatusCode, r.StatusMsg, len(r.VideoList))
	}
	tp := hdr.Get("traceparent")
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		t.Fatalf("traceparent %q: want 00-<trace id>-<span id>-<flags>", tp)
	}
	traceID, rootID := parts[1], parts[2]

	// Each hop: a client span in the caller and, its child, the server
	// span in the callee; every server span leads up to the edge's HTTP
	// span, the one the traceparent header names.
	hops := []struct{ from, to, method string }{
		{"edge", "feed", "douyin.feed.v1.FeedService/GetFeed"},
		{"feed", "video", "douyin.video.v1.VideoService/ListLatest"},
		{"feed", "user", "douyin.user.v1.UserService/BatchGetUsers"},
	}
	check := func(spans []span) error {
		byID := map[string]span{}
		for _, s := range spans {
			byID[s.id] = s
		}
		root, ok := byID[rootID]
		if !ok || root.service != "edge" || root.kind != "server" || root.parentID != "" {
			return fmt.Errorf("no root server span %s from edge (have %v)", rootID, root)
		}
		for _, h := range hops {
			var found bool
			for _, srv := range spans {
				if srv.service != h.to || srv.kind != "server" || srv.name != h.method {
					continue
				}
				cl, ok := byID[srv.parentID]
				if !ok || cl.service != h.from || cl.kind != "client" || cl.name != h.method {
					continue
				}
				// Up to the root, within the trace.
				at, steps := srv, 0
				for at.parentID != "" && steps < 50 {
					if at, ok = byID[at.parentID]; !ok {
						break
					}
					steps++
				}
				if ok && at.id == rootID {
					found = true
					break
				}
			}
			if !found {
				return fmt.Errorf("no %s server span in %s under a %s client span leading up to the root", h.method, h.to, h.from)
			}
		}
		return nil
	}
	took, err := eventually(10*time.Second, 50*time.Millisecond, func() (bool, error) {
		err := check(e.otlp.trace(traceID))
		return err == nil, err
	})
	spans := e.otlp.trace(traceID)
	bySvc := map[string][]string{}
	for _, s := range spans {
		bySvc[s.service] = append(bySvc[s.service], s.String())
	}
	for _, svc := range slices.Sorted(maps.Keys(bySvc)) {
		slices.Sort(bySvc[svc])
		t.Logf("  %-9s %s", svc, strings.Join(bySvc[svc], ", "))
	}
	if err != nil {
		t.Fatalf("trace %s: %v (%d spans of it, %d in all at the collector)", traceID, err, len(spans), e.otlp.total())
	}
	t.Logf("trace %s linked from edge through feed to video and user at the collector %v after the answer (%d spans so far)",
		traceID, took.Round(time.Millisecond), len(spans))
}

// 3. With abrouting's override header forcing the canary arm, feed calls
// reach the canary only; without it, the stable replicas only.
func TestGrayRouting(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	tok := e.users(t, "gray", 1)[0]
	mustNot(t, e.setPlugins(ctx, true), "plugins document")
	t.Cleanup(func() { _ = e.setPlugins(ctx, false) })

	feeds := []string{"feed-1", "feed-2", "feed-canary"}
	addrs := map[string]string{}
	for _, f := range feeds {
		a, err := e.httpAddr(ctx, f)
		mustNot(t, err, f)
		addrs[f] = a
	}
	counts := func() map[string]float64 {
		t.Helper()
		out := map[string]float64{}
		for _, f := range feeds {
			v, err := metric(ctx, addrs[f], "grpc_server_handled_total", getFeed)
			mustNot(t, err, "metrics of "+f)
			out[f] = v
		}
		return out
	}
	send := func(n int, hdr http.Header) {
		t.Helper()
		for i := range n {
			r, _, err := e.api.feed(ctx, tok, nil, hdr)
			mustNot(t, err, "feed")
			if r.StatusCode != 0 {
				t.Fatalf("feed request %d: status %d %q", i, r.StatusCode, r.StatusMsg)
			}
		}
	}
	if c := counts(); c["feed-1"]+c["feed-2"] == 0 {
		// The metric must be the one the feed counts its calls in.
		send(1, nil)
		if c2 := counts(); c2["feed-1"]+c2["feed-2"] != c["feed-1"]+c["feed-2"]+1 {
			t.Fatalf("grpc_server_handled_total%v of the stable feeds went from %v to %v on one request", getFeed, c, c2)
		}
	}
	// The edge balances on READY connections: wait until the canary takes
	// the forced requests.
	before := counts()
	took, err := eventually(10*time.Second, 50*time.Millisecond, func() (bool, error) {
		send(1, overrideHeader)
		return counts()["feed-canary"] > before["feed-canary"], nil
	})
	mustNot(t, err, "the first forced request reaching the canary")
	t.Logf("forced requests reach the canary %v after the plugins document was applied", took.Round(time.Millisecond))

	const n = 20
	before = counts()
	send(n, overrideHeader)
	after := counts()
	t.Logf("%d requests with %s: %v -> %v", n, overrideHeader, before, after)
	if d := after["feed-canary"] - before["feed-canary"]; d != n {
		t.Errorf("the canary served %v of %d forced requests, want all", d, n)
	}
	for _, f := range []string{"feed-1", "feed-2"} {
		if d := after[f] - before[f]; d != 0 {
			t.Errorf("%s served %v forced requests, want 0", f, d)
		}
	}

	before = counts()
	send(n, nil)
	after = counts()
	t.Logf("%d requests without it: %v -> %v", n, before, after)
	if d := after["feed-canary"] - before["feed-canary"]; d != 0 {
		t.Errorf("the canary served %v of %d ordinary requests, want none", d, n)
	}
	if d := after["feed-1"] + after["feed-2"] - before["feed-1"] - before["feed-2"]; d != n {
		t.Errorf("the stable feeds served %v of %d ordinary requests, want all", d, n)
	}
}

// getFeed selects the feed's GetFeed series of grpc_server_handled_total.
var getFeed = map[string]string{"grpc_service": "douyin.feed.v1.FeedService", "grpc_method": "GetFeed"}

// 4. Faults make the feed's breaker of video's ListLatest open (and drop
// calls); without them, it closes again.
func TestBreakerOpensAndCloses(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	const method = "ListLatest" // the feed's first call to video (services/feed)
	stable := []string{"feed-1", "feed-2"}
	all := append(slices.Clone(stable), "edge", "feed-canary")
	mustNot(t, e.setConfig(ctx, "breakers", "failure_ratio: 0.5\nmin_requests: 5\nwindow: 5s\nsleep_window: 3s\nhalf_open_probes: 1\n", all...), "breakers document")
	faulty := true
	t.Cleanup(func() {
		// Deleting a document that is not there changes nothing, which
		// setConfig would wait for.
		if faulty {
			_ = e.setConfig(ctx, "faults", "", "video")
		}
		_ = e.setConfig(ctx, "breakers", "", all...)
	})
	mustNot(t, e.setConfig(ctx, "faults",
		"faults: [{service: video, method: "+method+", probability: 1, abort: UNAVAILABLE, message: cluster test}]\n", "video"), "faults document")

	// Anonymous requests go round robin over the stable feeds.
	var (
		mu    sync.Mutex
		codes = map[string]int{}
	)
	drive := startLoadFunc(func(ctx context.Context) {
		r, _, err := e.api.feed(ctx, "", nil, nil)
		if ctx.Err() != nil {
			return
		}
		what := "transport error"
		if err == nil {
			what = strconv.Itoa(int(r.StatusCode))
			if r.StatusCode != 0 {
				// "retry after 123ms" varies; the kind of answer does not.
				what += " " + retryAfter.ReplaceAllString(r.StatusMsg, "retry after …")
			}
		}
		mu.Lock()
		codes[what]++
		mu.Unlock()
	}, 2, 10*time.Millisecond)
	defer drive()

	addrs := map[string]string{}
	for _, f := range stable {
		a, err := e.httpAddr(ctx, f)
		mustNot(t, err, f)
		addrs[f] = a
	}
	served := func() map[string]float64 {
		out := map[string]float64{}
		for _, f := range stable {
			out[f], _ = metric(ctx, addrs[f], "grpc_server_handled_total", getFeed)
		}
		return out
	}
	servedBefore := served()
	labels := map[string]string{"service": "video", "method": method}
	state := func(f string) (float64, error) { return metric(ctx, addrs[f], "tremolo_breaker_state", labels) }

	faulted := time.Now()
	var opened string
	took, err := eventually(15*time.Second, 50*time.Millisecond, func() (bool, error) {
		for _, f := range stable {
			if s, err := state(f); err == nil && s == 2 {
				opened = f
				return true, nil
			}
		}
		return false, nil
	})
	mustNot(t, err, "a feed's breaker of video/"+method+" opening")
	t.Logf("%s's breaker of video/%s open %v after the faults were applied", opened, method, took.Round(time.Millisecond))
	// The feed calls ListLatest when its shared page expires (about once a
	// second per instance): count the drops of every stable feed's breaker
	// of video, and of the edge's of the feed (which should stay closed:
	// the feed passes video's failure on, marked as not its own).
	edgeAddr, err := e.httpAddr(ctx, "edge")
	mustNot(t, err, "edge")
	drops := func() (float64, error) {
		sum, err := metric(ctx, edgeAddr, "tremolo_breaker_drops_total", map[string]string{"service": "feed", "method": "GetFeed"})
		if err != nil {
			return 0, err
		}
		for _, f := range stable {
			d, err := metric(ctx, addrs[f], "tremolo_breaker_drops_total", labels)
			if err != nil {
				return 0, err
			}
			sum += d
		}
		return sum, nil
	}
	_, err = eventually(10*time.Second, 50*time.Millisecond, func() (bool, error) {
		d, err := drops()
		return d > 0, err
	})
	mustNot(t, err, "drops counted by the open breakers")
	n, _ := drops()
	t.Logf("calls dropped by open breakers (the feeds' of video/%s, the edge's of feed/GetFeed): %v", method, n)

	mustNot(t, e.setConfig(ctx, "faults", "", "video"), "deleting the faults document")
	faulty = false
	// A breaker waits out its sleep window, then probes at the next page
	// refresh.
	took, err = eventually(20*time.Second, 50*time.Millisecond, func() (bool, error) {
		for _, f := range stable {
			if s, err := state(f); err != nil || s != 0 {
				return false, fmt.Errorf("%s's breaker state %v (%v)", f, s, err)
			}
		}
		return true, nil
	})
	mustNot(t, err, "the breakers closing after the faults went")
	// Closed by probing, not by a reset: the opened one went through
	// half-open to closed.
	for _, to := range []string{"half-open", "closed"} {
		n, err := metric(ctx, addrs[opened], "tremolo_breaker_transitions_total", map[string]string{"service": "video", "method": method, "to": to})
		mustNot(t, err, "transitions")
		if n < 1 {
			t.Errorf("%s: tremolo_breaker_transitions_total{to=%q} = %v, want at least 1", opened, to, n)
		}
	}
	t.Logf("every stable feed's breaker closed %v after the faults were removed (%v since they were set)",
		took.Round(time.Millisecond), time.Since(faulted).Round(time.Millisecond))
	drive()
	t.Logf("GetFeed calls served while driving: %v -> %v", servedBefore, served())
	mu.Lock()
	for _, k := range slices.Sorted(maps.Keys(codes)) {
		t.Logf("  %5d answers: status %s", codes[k], k)
	}
	mu.Unlock()
	// Requests succeed again.
	r, _, err := e.api.feed(ctx, "", nil, nil)
	mustNot(t, err, "feed after healing")
	if r.StatusCode != 0 {
		t.Errorf("feed after healing: status %d %q", r.StatusCode, r.StatusMsg)
	}
}

var retryAfter = regexp.MustCompile(`retry after [0-9.]+[a-zµ]+`)

// startLoadFunc runs f in n goroutines, pausing between calls, until the
// returned function is called (which waits for them; it may be called
// again).
func startLoadFunc(f func(context.Context), n int, pause time.Duration) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, n)
	for range n {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				f(ctx)
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		}()
	}
	stopped := false
	return func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		for range n {
			<-done
		}
	}
}

// 5. With etcd down for twice the registry TTL, requests keep succeeding
// on the instances the clients know; once it is back, every service is
// registered again, under new leases, and stays.
func TestEtcdOutage(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	cli, err := e.c.Etcd()
	mustNot(t, err, "etcd client")
	defer cli.Close()
	before, err := listInstances(ctx, cli)
	mustNot(t, err, "instances before")
	leases := map[string]int64{}
	for _, insts := range before {
		for _, in := range insts {
			leases[in.Key] = in.Lease
		}
	}

	l := startLoad(e.api, e.users(t, "outage", 4), 10*time.Millisecond)
	time.Sleep(time.Second)
	down, okBefore := time.Now(), l.ok.Load()
	e.c.StopEtcd()
	time.Sleep(2*ttl + 100*time.Millisecond)
	mustNot(t, e.c.StartEtcd(ctx), "restarting etcd")
	up, okDown := time.Now(), l.ok.Load()-okBefore
	t.Logf("etcd down for %v (killed, %v later started again, answering after %v more); %d requests succeeded meanwhile",
		up.Sub(down).Round(time.Millisecond), 2*ttl+100*time.Millisecond, (up.Sub(down) - 2*ttl - 100*time.Millisecond).Round(time.Millisecond), okDown)

	// Back: every service present. Its keys may be the ones from before,
	// which etcd restores with their leases refreshed, so the time that
	// counts is until each is under a lease granted after the restart
	// (re-published), and then that they outlive the old leases.
	took, err := eventually(10*time.Second, 50*time.Millisecond, func() (bool, error) {
		insts, err := listInstances(ctx, cli)
		if err != nil {
			return false, err
		}
		if m := missing(insts, 3); m != "" {
			return false, fmt.Errorf("missing: %s", m)
		}
		var old []string
		for _, list := range insts {
			for _, in := range list {
				if leases[in.Key] == in.Lease {
					old = append(old, in.Key)
				}
			}
		}
		if len(old) > 0 {
			return false, fmt.Errorf("still under the lease from before the outage: %v", old)
		}
		return true, nil
	})
	if err != nil {
		t.Errorf("re-registration after etcd's restart: %v", err)
	} else {
		t.Logf("every service re-published under a new lease %v after etcd answered again", took.Round(time.Millisecond))
	}
	// And stays: the leases from before the outage have run out by now.
	time.Sleep(ttl + time.Second)
	insts, err := listInstances(ctx, cli)
	mustNot(t, err, "instances after")
	if m := missing(insts, 3); m != "" {
		t.Errorf("%v after etcd's restart, missing: %s", time.Since(up).Round(time.Millisecond), m)
	}
	ok, failed, failures := l.stop()
	t.Logf("load: %d requests succeeded (%d of them while etcd was down), %d failed, over %v",
		ok, okDown, failed, time.Since(l.start).Round(time.Millisecond))
	if okDown == 0 {
		t.Errorf("no request answered while etcd was down")
	}
	if failed != 0 {
		t.Errorf("%d requests failed during the etcd outage; first ones: %s", failed, strings.Join(failures, "; "))
	}
	e.checkAlive(t)
}

// 6. A feed replica killed with SIGKILL leaves etcd within TTL + 1s, and
// the requests go on (at most 1% failing while the clients notice).
func TestKilledInstanceDisappears(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	cli, err := e.c.Etcd()
	mustNot(t, err, "etcd client")
	defer cli.Close()
	victim := e.c.Process("feed-2")
	if victim == nil {
		t.Fatal("no feed-2")
	}
	suffix := "-" + strconv.Itoa(victim.PID()) // discovery.DefaultID: addr-pid
	keyOf := func() (string, error) {
		insts, err := listInstances(ctx, cli)
		if err != nil {
			return "", err
		}
		for _, in := range insts["feed"] {
			if strings.HasSuffix(in.ID, suffix) {
				return in.Key, nil
			}
		}
		return "", nil
	}
	key, err := keyOf()
	mustNot(t, err, "feed-2's key")
	if key == "" {
		t.Fatalf("feed-2 (pid %d) is not in etcd", victim.PID())
	}

	// Eight users: the edge hashes users over the stable replicas, so
	// some of them are on feed-2.
	victimHTTP, err := e.httpAddr(ctx, "feed-2")
	mustNot(t, err, "feed-2's address")
	servedBefore, err := metric(ctx, victimHTTP, "grpc_server_handled_total", getFeed)
	mustNot(t, err, "feed-2's metrics")
	l := startLoad(e.api, e.users(t, "kill", 8), 10*time.Millisecond)
	time.Sleep(time.Second)
	servedAfter, err := metric(ctx, victimHTTP, "grpc_server_handled_total", getFeed)
	mustNot(t, err, "feed-2's metrics")
	t.Logf("feed-2 served %v of the load's %d requests in its first second", servedAfter-servedBefore, l.ok.Load()+l.failed.Load())
	if servedAfter == servedBefore {
		t.Errorf("none of the load reached feed-2: killing it tests nothing")
	}
	killed := time.Now()
	victim.Kill()
	gone, err := eventually(ttl+3*time.Second, 20*time.Millisecond, func() (bool, error) {
		k, err := keyOf()
		return err == nil && k == "", err
	})
	mustNot(t, err, "feed-2's key vanishing")
	t.Logf("feed-2 (pid %d) SIGKILLed; its key %s vanished %v later", victim.PID(), key, gone.Round(time.Millisecond))
	if gone > ttl+time.Second {
		t.Errorf("the key vanished %v after the kill, want within TTL+1s = %v", gone, ttl+time.Second)
	}
	time.Sleep(time.Second)
	ok, failed, failures := l.stop()
	total := ok + failed
	t.Logf("load: %d requests, %d failed (%.2f%%), %v in all, %v after the kill; failures: %s",
		total, failed, 100*float64(failed)/float64(max(total, 1)), time.Since(l.start).Round(time.Millisecond),
		time.Since(killed).Round(time.Millisecond), strings.Join(failures, "; "))
	if total == 0 || float64(failed) > 0.01*float64(total) {
		t.Errorf("%d of %d requests failed around the kill, want at most 1%%", failed, total)
	}
	e.checkAlive(t, "feed-2")
	// The survivors serve: a request after the dust settled succeeds.
	r, _, err := e.api.feed(ctx, "", nil, nil)
	mustNot(t, err, "feed after the kill")
	if r.StatusCode != 0 {
		t.Errorf("feed after the kill: status %d %q", r.StatusCode, r.StatusMsg)
	}
}
