// Command reliability measures what the distributed mode's users see while
// things break: it starts tools/cluster (etcd, every service as its own
// process, the feed twice, the edge), keeps a steady load of feed requests
// on the edge, and breaks one thing at a time. For every phase it counts
// the requests sent, those that failed (an error envelope or a non-200
// answer) and those lost (no answer at all: a connection error or a
// timeout). docs/reliability.md has the figures and the command:
//
//	go run ./tools/bench/reliability [-phase 8s] [-conns 8]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/tremolo-dev/tremolo/services/video/videotest"
	"github.com/tremolo-dev/tremolo/tools/cluster"
)

func main() {
	phase := flag.Duration("phase", 8*time.Second, "length of each measured phase")
	conns := flag.Int("conns", 8, "concurrent clients")
	only := flag.String("only", "", "run only the faults whose name contains this (and the baseline)")
	flag.Parse()
	if err := run(*phase, *conns, *only); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
}

// counts are one phase's requests.
type counts struct {
	sent, failed, lost atomic.Int64
	firstErr           atomic.Value
}

func run(phase time.Duration, conns int, only string) error {
	ctx := context.Background()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tremolo-reliability-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := cluster.Build(ctx, root, dir); err != nil {
		return err
	}
	c, err := cluster.Start(ctx, cluster.Options{
		Dir: dir, RepoRoot: root,
		EdgeAddr: freeAddr(), MediaAddr: freeAddr(), EtcdPort: freePort(), EtcdPeerPort: freePort(),
		// A short lease, so that a killed instance leaves the registry
		// within the phase; native middleware: the plugins are not what is
		// measured here.
		Args: []string{"-registry-ttl", "2s"},
		// The feed as it runs: its newest page is shared for a second, so
		// video and user see about one call per second per feed instance,
		// and every request asks favorite and relation for the viewer's
		// flags (FilterLiked, FilterFollowing: degradable).
		ServiceArgs: map[string][]string{"edge": {"-edge-middleware", "native"}},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Stop(sctx)
		_ = os.RemoveAll(dir)
	}
	defer stop()
	// Interrupted: stop the cluster's processes too (they run in their own
	// process groups, so a terminal's Ctrl-C does not reach them).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		stop()
		os.Exit(1)
	}()
	feedURL, err := seed(c.EdgeURL)
	if err != nil {
		return err
	}
	// Breakers that react within a phase.
	if err := c.SetConfig(ctx, "breakers", []byte("min_requests: 10\nfailure_ratio: 0.5\nwindow: 5s\nsleep_window: 2s\nhalf_open_probes: 3\n")); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)

	type fault struct {
		name       string
		start, end func() error
		what       string
	}
	setFaults := func(doc string) func() error {
		return func() error { return c.SetConfig(ctx, "faults", []byte(doc)) }
	}
	clearFaults := func() error { return c.SetConfig(ctx, "faults", nil) }
	faults := []fault{
		{name: "none (baseline)", start: func() error { return nil }, end: func() error { return nil }},
		{name: "etcd killed (SIGKILL) for the phase, then restarted", what: "discovery",
			start: func() error { c.StopEtcd(); return nil }, end: func() error { return c.StartEtcd(ctx) }},
		{name: "one of the two feed instances killed (SIGKILL)", what: "discovery, balancing",
			start: func() error { c.Process("feed-1").Kill(); return nil }, end: func() error { return nil }},
		{name: "favorite.FilterLiked fails (UNAVAILABLE, every call)", what: "breaker, degraded response",
			start: setFaults("faults: [{service: favorite, method: FilterLiked, abort: UNAVAILABLE}]"), end: clearFaults},
		{name: "video.ListLatest fails 20% of calls (UNAVAILABLE)", what: "retries (idempotent, budgeted)",
			start: setFaults("faults: [{service: video, method: ListLatest, probability: 0.2, abort: UNAVAILABLE}]"), end: clearFaults},
		{name: "the user service 300 ms slower on half its calls", what: "deadlines",
			start: setFaults("faults: [{service: user, method: '*', probability: 0.5, delay: 300ms}]"), end: clearFaults},
		{name: "video.ListLatest fails every call (UNAVAILABLE)", what: "breaker (no degraded response: the page needs its videos)",
			start: setFaults("faults: [{service: video, method: ListLatest, abort: UNAVAILABLE}]"), end: clearFaults},
	}
	fmt.Printf("distributed mode, %d clients on GET /douyin/feed/ (token), %s per phase\n\n", conns, phase)
	fmt.Println("| fault | exercises | requests sent | failed | lost | breaker drops | degraded replies | retries | faults injected | first error |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for i, f := range faults {
		if i > 0 && !strings.Contains(f.name, only) {
			continue
		}
		if err := f.start(); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		before := scrape(c)
		var n counts
		drive(feedURL, conns, phase, &n)
		after := scrape(c)
		if err := f.end(); err != nil {
			return fmt.Errorf("%s: ending it: %w", f.name, err)
		}
		first, _ := n.firstErr.Load().(string)
		d := func(name string) int64 { return int64(after[name] - before[name]) }
		fmt.Printf("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %s |\n", f.name, f.what, n.sent.Load(), n.failed.Load(), n.lost.Load(),
			d("tremolo_breaker_drops_total"), d("tremolo_breaker_degraded_total"), d("tremolo_retry_attempts_total"), d("tremolo_faults_injected_total"), first)
		time.Sleep(3 * time.Second) // let breakers close and registrations settle
	}
	return nil
}

// drive sends feed requests from conns clients for d, counting them in n.
func drive(u string, conns int, d time.Duration, n *counts) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n.sent.Add(1)
				resp, err := client.Get(u)
				if err != nil {
					n.lost.Add(1)
					n.firstErr.CompareAndSwap(nil, "lost: "+err.Error())
					continue
				}
				var env struct {
					StatusCode int    `json:"status_code"`
					StatusMsg  string `json:"status_msg"`
				}
				err = json.NewDecoder(resp.Body).Decode(&env)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || env.StatusCode != 0 {
					n.failed.Add(1)
					n.firstErr.CompareAndSwap(nil, fmt.Sprintf("HTTP %d, status_code %d: %s", resp.StatusCode, env.StatusCode, env.StatusMsg))
				}
			}
		}()
	}
	wg.Wait()
}

// seed registers a viewer and an author with three videos, and returns
// the viewer's feed URL.
func seed(base string) (string, error) {
	type user struct {
		StatusCode int    `json:"status_code"`
		StatusMsg  string `json:"status_msg"`
		UserID     int64  `json:"user_id"`
		Token      string `json:"token"`
	}
	register := func(name string) (user, error) {
		// The edge may be ready a moment before it has found the user
		// service: try for a few seconds.
		var u user
		for deadline := time.Now().Add(10 * time.Second); ; {
			resp, err := http.PostForm(base+"/douyin/user/register/", url.Values{"username": {name}, "password": {"reliability1"}})
			if err != nil {
				return u, err
			}
			err = json.NewDecoder(resp.Body).Decode(&u)
			resp.Body.Close()
			if err == nil && u.Token != "" {
				return u, nil
			}
			if time.Now().After(deadline) {
				return u, fmt.Errorf("registering %s: %v (status_code %d: %s)", name, err, u.StatusCode, u.StatusMsg)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	author, err := register("author")
	if err != nil {
		return "", err
	}
	viewer, err := register("viewer")
	if err != nil {
		return "", err
	}
	for i := range 3 {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("token", author.Token)
		_ = mw.WriteField("title", "reliability "+strconv.Itoa(i))
		fw, _ := mw.CreateFormFile("data", "clip.mp4")
		_, _ = fw.Write(videotest.MP4())
		_ = mw.Close()
		resp, err := http.Post(base+"/douyin/publish/action/", mw.FormDataContentType(), &body)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"status_code":0`) {
			return "", fmt.Errorf("publishing: %s", b)
		}
	}
	return base + "/douyin/feed/?token=" + url.QueryEscape(viewer.Token), nil
}

// scrape sums, over every live process of the cluster, the counters the
// table reports.
func scrape(c *cluster.Cluster) map[string]float64 {
	sums := map[string]float64{}
	for _, p := range c.Processes() {
		select {
		case <-p.Exited():
			continue
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, httpAddr, err := p.Addrs(ctx)
		if err == nil {
			var fams map[string]*dto.MetricFamily
			if fams, err = cluster.Scrape(ctx, httpAddr); err == nil {
				for _, name := range counted {
					v, _ := cluster.Sum(fams, name, nil)
					sums[name] += v
				}
			}
		}
		cancel()
	}
	return sums
}

// counted are the counters the table reports.
var counted = []string{"tremolo_breaker_drops_total", "tremolo_breaker_degraded_total", "tremolo_retry_attempts_total", "tremolo_faults_injected_total"}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func freePort() int {
	_, p, _ := net.SplitHostPort(freeAddr())
	n, _ := strconv.Atoi(p)
	return n
}
