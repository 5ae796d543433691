package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tremolo-dev/tremolo/platform/discovery"
	"github.com/tremolo-dev/tremolo/tools/cluster"
)

// ---- ports and paths ----

// freePort returns a loopback port nobody listens on now, from below the
// kernel's ephemeral range. A port the kernel hands out for ":0" goes back
// to that range when closed, and the edge binds the one it is given only
// after loading its plugins, seconds later: meanwhile any process binding
// ":0" (the cluster's own services, other test binaries running in
// parallel) could get it, and the edge failed to start with "address
// already in use". Below the range only an explicit bind can take it.
func freePort() (int, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				low = n
			}
		}
	}
	for range 100 {
		port := 10000 + rand.IntN(low-10000)
		if takenPorts[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		takenPorts[port] = true
		return port, nil
	}
	return 0, errors.New("no free loopback port below the ephemeral range after 100 tries")
}

// takenPorts are the ports freePort returned, never returned twice.
var takenPorts = map[int]bool{}

// repoRoot walks up from the working directory to the directory of go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// servingAddrs reads the "serving" line of a process's JSON log file.
func servingAddrs(path string) (grpcAddr, httpAddr string, ok bool) {
	g, h, _, ok := servingLine(path)
	return g, h, ok
}

// servingLine reads the "serving" line of a process's JSON log file: the
// addresses and when it was logged.
func servingLine(path string) (grpcAddr, httpAddr string, at time.Time, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", time.Time{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if !bytes.Contains(sc.Bytes(), []byte(`"msg":"serving"`)) {
			continue
		}
		var v struct {
			GRPC, HTTP string
			Time       time.Time
		}
		if json.Unmarshal(sc.Bytes(), &v) == nil && v.GRPC != "" {
			return v.GRPC, v.HTTP, v.Time, true
		}
	}
	return "", "", time.Time{}, false
}

// ---- the app's HTTP API ----

// reply is an answer of the edge's API: the envelope and the fields the
// tests read.
type reply struct {
	StatusCode int32  `json:"status_code"`
	StatusMsg  string `json:"status_msg"`
	UserID     int64  `json:"user_id"`
	Token      string `json:"token"`
	VideoList  []struct {
		ID    int64  `json:"id"`
		Title string `json:"title"`
	} `json:"video_list"`
}

// api calls the edge.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(base string) *api {
	return &api{base: base, hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

func (a *api) do(req *http.Request) (*reply, http.Header, error) {
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp.Header, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.Header, fmt.Errorf("%s %s: HTTP %d: %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	var r reply
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, resp.Header, fmt.Errorf("%s %s: %w: %s", req.Method, req.URL.Path, err, body)
	}
	return &r, resp.Header, nil
}

// register creates an account and returns its token.
func (a *api) register(name, password string) (string, error) {
	form := url.Values{"username": {name}, "password": {password}}
	req, err := http.NewRequest(http.MethodPost, a.base+"/douyin/user/register/", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r, _, err := a.do(req)
	if err != nil {
		return "", err
	}
	if r.StatusCode != 0 || r.Token == "" {
		return "", fmt.Errorf("register %s: status %d %q", name, r.StatusCode, r.StatusMsg)
	}
	return r.Token, nil
}

// publish uploads a video (multipart: data, token, title).
func (a *api) publish(token, title string, video []byte) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("token", token)
	_ = mw.WriteField("title", title)
	w, err := mw.CreateFormFile("data", "video.mp4")
	if err != nil {
		return err
	}
	_, _ = w.Write(video)
	if err := mw.Close(); err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, a.base+"/douyin/publish/action/", &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r, _, err := a.do(req)
	if err != nil {
		return err
	}
	if r.StatusCode != 0 {
		return fmt.Errorf("publish %q: status %d %q", title, r.StatusCode, r.StatusMsg)
	}
	return nil
}

// feed gets /douyin/feed/ with token (may be empty), extra query
// parameters and headers.
func (a *api) feed(ctx context.Context, token string, q url.Values, hdr http.Header) (*reply, http.Header, error) {
	if q == nil {
		q = url.Values{}
	}
	if token != "" {
		q.Set("token", token)
	}
	u := a.base + "/douyin/feed/"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return a.do(req)
}

// ---- metrics ----

// metric scrapes httpAddr and returns the sum of name's samples whose
// labels include want.
func metric(ctx context.Context, httpAddr, name string, want map[string]string) (float64, error) {
	fams, err := cluster.Scrape(ctx, httpAddr)
	if err != nil {
		return 0, err
	}
	v, _ := cluster.Sum(fams, name, want)
	return v, nil
}

// ---- etcd ----

// registered is one instance key in etcd.
type registered struct {
	discovery.Instance
	Key   string
	Lease int64
}

// listInstances returns the instances under the registry's prefix, by
// service.
func listInstances(ctx context.Context, cli *clientv3.Client) (map[string][]registered, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, discovery.DefaultPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := map[string][]registered{}
	for _, kv := range resp.Kvs {
		inst, err := discovery.Unmarshal(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", kv.Key, err)
		}
		out[inst.Service] = append(out[inst.Service], registered{Instance: inst, Key: string(kv.Key), Lease: kv.Lease})
	}
	return out, nil
}

// keyWatch polls the registry's keys every 10 ms from before the cluster
// starts, noting when each key was first seen.
type keyWatch struct {
	stopc chan struct{}
	done  chan struct{}

	mu    sync.Mutex
	first map[string]time.Time
	insts map[string]registered
	err   error
}

func watchKeys(endpoint, hostPort string) *keyWatch {
	w := &keyWatch{stopc: make(chan struct{}), done: make(chan struct{}), first: map[string]time.Time{}, insts: map[string]registered{}}
	go func() {
		defer close(w.done)
		// Only once etcd listens: the client would log its failed dials.
		for {
			if c, err := net.DialTimeout("tcp", hostPort, 100*time.Millisecond); err == nil {
				c.Close()
				break
			}
			select {
			case <-w.stopc:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second})
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		defer cli.Close()
		for {
			insts, err := listInstances(context.Background(), cli)
			now := time.Now()
			w.mu.Lock()
			if err != nil {
				w.err = err
			}
			for _, list := range insts {
				for _, in := range list {
					if _, ok := w.first[in.Key]; !ok {
						w.first[in.Key], w.insts[in.Key] = now, in
					}
				}
			}
			w.mu.Unlock()
			select {
			case <-w.stopc:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return w
}

// firstSeen returns when a key of an instance at the gRPC address addr
// was first seen, and the instance.
func (w *keyWatch) firstSeen(addr string) (time.Time, registered, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, in := range w.insts {
		if in.Addr == addr {
			return w.first[k], in, true
		}
	}
	return time.Time{}, registered{}, false
}

func (w *keyWatch) stop() {
	select {
	case <-w.stopc:
	default:
		close(w.stopc)
	}
	<-w.done
}

// ---- load ----

// load sends GET /douyin/feed/ from several goroutines, one token each,
// until stopped, and counts the answers.
type load struct {
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup

	ok, failed atomic.Int64

	mu       sync.Mutex
	failures []string // the first few, with their time since start
}

func startLoad(a *api, tokens []string, pause time.Duration) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{start: time.Now(), cancel: cancel}
	for _, tok := range tokens {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil {
				r, _, err := a.feed(ctx, tok, nil, nil)
				if ctx.Err() != nil {
					return // stopped mid-request: not an answer
				}
				switch {
				case err != nil:
					l.fail(err.Error())
				case r.StatusCode != 0:
					l.fail(fmt.Sprintf("status %d %q", r.StatusCode, r.StatusMsg))
				default:
					l.ok.Add(1)
				}
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		}()
	}
	return l
}

func (l *load) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, fmt.Sprintf("+%v %s", time.Since(l.start).Round(time.Millisecond), msg))
	}
}

// stop ends the load and returns its counts and first failures.
func (l *load) stop() (ok, failed int64, failures []string) {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok.Load(), l.failed.Load(), append([]string(nil), l.failures...)
}

// eventually polls cond every interval until it returns true or limit
// passes; it returns how long it took, or an error with cond's last one.
func eventually(limit, interval time.Duration, cond func() (bool, error)) (time.Duration, error) {
	start := time.Now()
	var last error
	for {
		ok, err := cond()
		if ok {
			return time.Since(start), nil
		}
		if err != nil {
			last = err
		}
		if time.Since(start) > limit {
			if last == nil {
				last = errors.New("condition not met")
			}
			return time.Since(start), fmt.Errorf("after %v: %w", limit, last)
		}
		time.Sleep(interval)
	}
}

// mustNot fails t when err is not nil.
func mustNot(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
