// Package cluster runs the distributed mode on one machine: a local etcd
// (Debian's etcd-server), every Douyin service as its own process, some of
// them twice, and the edge, all registering and finding each other through
// etcd on the loopback interface. cmd/tremolo-cluster is its command; the
// distributed-mode tests and benchmarks start it the same way.
//
// It is a supervisor, not an orchestrator: it builds the service binaries,
// starts them with the flags a fleet would use (-registry etcd), waits until
// the edge answers, and stops them all (SIGTERM, by PID) when told to or
// when any of them exits on its own. What runs is exactly what production
// runs; only the machines are fewer.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tremolo-dev/tremolo/platform/discovery"
)

// EtcdBinary is the etcd server the cluster runs.
const EtcdBinary = "/usr/bin/etcd"

// Options say what to run and where.
type Options struct {
	// Dir holds everything: binaries (bin/), etcd's data, each process's
	// data directory and log file (logs/).
	Dir string
	// RepoRoot is the repository the services are built from.
	RepoRoot string
	// EdgeAddr is where the app's HTTP API listens.
	EdgeAddr string
	// MediaAddr is the video service's HTTP address, which the edge
	// proxies /media/ to.
	MediaAddr string
	// EtcdPort and EtcdPeerPort are etcd's loopback ports.
	EtcdPort, EtcdPeerPort int
	// Replicas is how many instances of each stateless service run; the
	// others run once (their SQLite files belong to one process). Default:
	// feed 2.
	Replicas map[string]int
	// Args are extra flags for every service process (e.g. -tracing=false).
	Args []string
	// ServiceArgs are extra flags for one service's processes.
	ServiceArgs map[string][]string
	// Logger reports progress; nil is slog.Default().
	Logger *slog.Logger
	// Stdout receives each process's output prefixed by its name, besides
	// its log file; nil: log files only.
	Stdout io.Writer
}

// Services are the backend services, in start order (callees first does
// not matter with discovery; it only makes the logs easier to read).
var Services = []string{"user", "video", "favorite", "comment", "relation", "message", "feed"}

// stateless services may run more than once on the embedded SQLite
// default: they keep no data.
var stateless = map[string]bool{"feed": true, "edge": true}

func (o *Options) defaults() error {
	if o.Dir == "" {
		o.Dir = "data/cluster"
	}
	if o.RepoRoot == "" {
		o.RepoRoot = "."
	}
	if o.EdgeAddr == "" {
		o.EdgeAddr = "127.0.0.1:8080"
	}
	if o.MediaAddr == "" {
		o.MediaAddr = "127.0.0.1:8082"
	}
	if o.EtcdPort == 0 {
		o.EtcdPort = 2379
	}
	if o.EtcdPeerPort == 0 {
		o.EtcdPeerPort = 2380
	}
	if o.Replicas == nil {
		o.Replicas = map[string]int{"feed": 2}
	}
	for svc, n := range o.Replicas {
		if n > 1 && !stateless[svc] {
			return fmt.Errorf("cluster: %d replicas of %s: it keeps its data in SQLite, which belongs to one process; run PostgreSQL for replicas of it", n, svc)
		}
		if n < 1 {
			return fmt.Errorf("cluster: %d replicas of %s: want at least 1", n, svc)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var err error
	o.Dir, err = filepath.Abs(o.Dir)
	return err
}

// Cluster is a running distributed mode.
type Cluster struct {
	opts Options
	// EtcdEndpoint is etcd's client URL.
	EtcdEndpoint string
	// EdgeURL is the app's API, "http://127.0.0.1:8080".
	EdgeURL string

	mu    sync.Mutex
	procs []*Process
	exits chan *Process
	etcd  *Process
	done  bool
	// etcdDown is set while StopEtcd has etcd down on purpose, so that its
	// exit is not reported as a failure.
	etcdDown atomic.Bool
}

// Process is one started process.
type Process struct {
	// Name is the service and instance, "feed-2".
	Name string
	// Log is its log file.
	Log string
	cmd *exec.Cmd
	// Err is how it exited, once it has.
	Err    error
	exited chan struct{}
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Build compiles the service binaries into dir/bin, and the edge's WASM
// plugins into the repository's .build/plugins, where the default chain
// file (wasm-plugins/chain.yaml) finds them.
func Build(ctx context.Context, repo, dir string) error {
	plugins := exec.CommandContext(ctx, "bash", "wasm-plugins/build.sh")
	plugins.Dir = repo
	if out, err := plugins.CombinedOutput(); err != nil {
		return fmt.Errorf("cluster: building the edge's plugins (wasm-plugins/build.sh): %w\n%s", err, out)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-o", bin + "/"}
	for _, s := range append(append([]string(nil), Services...), "edge") {
		args = append(args, "./services/"+s+"/cmd/"+s)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cluster: go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Start builds nothing: it runs etcd and the binaries Build made, and
// returns once the edge is ready. On error everything started is stopped.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(EtcdBinary); err != nil {
		return nil, fmt.Errorf("cluster: etcd is not installed at %s (apt-get install etcd-server, or bash tools/setup.sh): %w", EtcdBinary, err)
	}
	c := &Cluster{
		opts:         opts,
		EtcdEndpoint: "http://127.0.0.1:" + strconv.Itoa(opts.EtcdPort),
		EdgeURL:      "http://" + opts.EdgeAddr,
		exits:        make(chan *Process, 64),
	}
	for _, d := range []string{"logs", "etcd"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := c.startEtcd(ctx); err != nil {
		c.Stop(context.Background())
		return nil, err
	}
	if err := c.startServices(); err != nil {
		c.Stop(context.Background())
		return nil, err
	}
	if err := c.waitReady(ctx, c.EdgeURL+"/readyz", 60*time.Second); err != nil {
		c.Stop(context.Background())
		return nil, err
	}
	if err := c.waitRegistered(ctx, 30*time.Second); err != nil {
		c.Stop(context.Background())
		return nil, err
	}
	opts.Logger.Info("cluster ready", slog.String("edge", c.EdgeURL), slog.String("etcd", c.EtcdEndpoint), slog.Int("processes", len(c.procs)), slog.String("logs", filepath.Join(opts.Dir, "logs")))
	return c, nil
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	peer := "http://127.0.0.1:" + strconv.Itoa(c.opts.EtcdPeerPort)
	if err := portFree(c.opts.EtcdPort); err != nil {
		return fmt.Errorf("cluster: etcd's port: %w (choose another with -etcd-port)", err)
	}
	p, err := c.spawn("etcd", EtcdBinary, []string{
		"--name", "tremolo",
		"--data-dir", filepath.Join(c.opts.Dir, "etcd"),
		"--listen-client-urls", c.EtcdEndpoint,
		"--advertise-client-urls", c.EtcdEndpoint,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "tremolo=" + peer,
		"--logger", "zap", "--log-outputs", "stderr",
	}, []string{"ETCD_UNSUPPORTED_ARCH=" + runtime.GOARCH})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.etcd = p
	c.mu.Unlock()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.EtcdEndpoint}, DialTimeout: time.Second})
	if err != nil {
		return fmt.Errorf("cluster: etcd client: %w", err)
	}
	defer cli.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Get(cctx, "tremolo-cluster-ready")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("cluster: etcd exited at start: %v (log: %s)", p.Err, p.Log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: etcd on %s did not answer within 20s: %w (log: %s)", c.EtcdEndpoint, err, p.Log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) startServices() error {
	bin := filepath.Join(c.opts.Dir, "bin")
	common := []string{
		"-registry", "etcd",
		"-etcd-endpoints", c.EtcdEndpoint,
		"-config-source", "etcd", "-config-prefix", ConfigPrefix,
		"-grpc-addr", "127.0.0.1:0",
	}
	// The user service signs tokens and the edge checks them: one key.
	// platform/token creates the file on first use, safely when both race.
	key := []string{"-jwt-key-file", filepath.Join(c.opts.Dir, "jwt.key")}
	common = append(common, c.opts.Args...)
	for _, svc := range append(append([]string(nil), Services...), "edge") {
		n := max(c.opts.Replicas[svc], 1)
		for i := 1; i <= n; i++ {
			name := svc
			if n > 1 {
				name = svc + "-" + strconv.Itoa(i)
			}
			args := append([]string(nil), common...)
			args = append(args, "-data-dir", filepath.Join(c.opts.Dir, name))
			switch svc {
			case "user":
				args = append(args, "-http-addr", "127.0.0.1:0")
				args = append(args, key...)
			case "edge":
				args = append(args, key...)
				args = append(args, "-http-addr", c.opts.EdgeAddr, "-media-origin", "http://"+c.opts.MediaAddr,
					"-edge-plugins", filepath.Join(c.opts.RepoRoot, "wasm-plugins", "chain.yaml"))
			case "video":
				args = append(args, "-http-addr", c.opts.MediaAddr)
			default:
				args = append(args, "-http-addr", "127.0.0.1:0")
			}
			args = append(args, c.opts.ServiceArgs[svc]...)
			if _, err := c.spawn(name, filepath.Join(bin, svc), args, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// spawn starts a process whose output goes to logs/<name>.log.
func (c *Cluster) spawn(name, path string, args, env []string) (*Process, error) {
	logPath := filepath.Join(c.opts.Dir, "logs", name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = c.opts.RepoRoot
	cmd.Env = append(os.Environ(), env...)
	var out io.Writer = f
	if c.opts.Stdout != nil {
		out = io.MultiWriter(f, &prefixWriter{w: c.opts.Stdout, prefix: name + " | "})
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: a terminal's Ctrl-C reaches the supervisor,
	// which stops the processes in order, not everything at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("cluster: starting %s (%s): %w", name, path, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.Err = cmd.Wait()
		f.Close()
		deliberate := name == "etcd" && c.etcdDown.Load() // read before Kill returns
		close(p.exited)
		if deliberate {
			return
		}
		select {
		case c.exits <- p:
		default: // nobody is listening any more
		}
	}()
	c.mu.Lock()
	if name != "etcd" {
		c.procs = append(c.procs, p)
	}
	c.mu.Unlock()
	c.opts.Logger.Info("started", slog.String("process", name), slog.Int("pid", p.PID()))
	return p, nil
}

func (c *Cluster) waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case p := <-c.exits:
			return fmt.Errorf("cluster: %s exited during start-up: %v (log: %s)", p.Name, p.Err, p.Log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: %s not ready within %v", url, limit)
		}
	}
}

// waitRegistered waits until every instance started is registered in
// etcd (and a moment more, for the callers' watches to hear of them), so
// that the first request finds every service.
func (c *Cluster) waitRegistered(ctx context.Context, limit time.Duration) error {
	cli, err := c.Etcd()
	if err != nil {
		return err
	}
	defer cli.Close()
	want := map[string]int{}
	for _, svc := range append(append([]string(nil), Services...), "edge") {
		want[svc] = max(c.opts.Replicas[svc], 1)
	}
	deadline := time.Now().Add(limit)
	for {
		got := map[string]int{}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := cli.Get(cctx, discovery.DefaultPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		cancel()
		if err == nil {
			for _, kv := range resp.Kvs {
				svc, _, _ := strings.Cut(strings.TrimPrefix(string(kv.Key), discovery.DefaultPrefix), "/")
				got[svc]++
			}
		}
		missing := []string{}
		for svc, n := range want {
			if got[svc] < n {
				missing = append(missing, svc)
			}
		}
		if len(missing) == 0 {
			time.Sleep(200 * time.Millisecond)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: not registered in etcd within %v: %v", limit, missing)
		}
		select {
		case p := <-c.exits:
			return fmt.Errorf("cluster: %s exited during start-up: %v (log: %s)", p.Name, p.Err, p.Log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Processes returns the service processes (etcd excluded).
func (c *Cluster) Processes() []*Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Process(nil), c.procs...)
}

// Exited returns the first process that exits on its own.
func (c *Cluster) Exited() <-chan *Process { return c.exits }

// Stop sends SIGTERM to every service process, waits for them (SIGKILL
// after ctx's deadline or 20 s), then stops etcd the same way.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return nil
	}
	c.done = true
	procs := append([]*Process(nil), c.procs...)
	c.mu.Unlock()
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
	}
	var errs []error
	stop := func(ps []*Process) {
		for _, p := range ps {
			_ = p.cmd.Process.Signal(syscall.SIGTERM) // it may have exited already
		}
		for _, p := range ps {
			select {
			case <-p.exited:
			case <-ctx.Done():
				_ = p.cmd.Process.Kill()
				<-p.exited
				errs = append(errs, fmt.Errorf("cluster: %s did not stop in time; killed", p.Name))
			}
		}
	}
	stop(procs)
	if c.etcd != nil {
		stop([]*Process{c.etcd})
	}
	return errors.Join(errs...)
}

func portFree(port int) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return l.Close()
}
