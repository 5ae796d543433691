// Command tremolo-cluster runs the distributed mode on one machine: a local
// etcd, every Douyin service as its own process (the feed twice) and the
// edge, registering and finding each other through etcd on 127.0.0.1.
// The app's API is on -edge-addr (127.0.0.1:8080), as with `make run`.
//
//	go run ./cmd/tremolo-cluster            # or: make run-cluster
//
// Ctrl-C stops every process (SIGTERM, then etcd). Data, binaries and one
// log file per process live in -dir (data/cluster). Flags after "--" go to
// every service, e.g. `-- -trace-sample 0.1`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tremolo-dev/tremolo/tools/cluster"
)

func main() {
	var (
		opts     cluster.Options
		replicas = map[string]int{"feed": 2}
		quiet    bool
	)
	flag.StringVar(&opts.Dir, "dir", "data/cluster", "directory for binaries, etcd's data, each process's data and logs")
	flag.StringVar(&opts.EdgeAddr, "edge-addr", "127.0.0.1:8080", "the app's HTTP API")
	flag.StringVar(&opts.MediaAddr, "media-addr", "127.0.0.1:8082", "the video service's HTTP address (media files)")
	flag.IntVar(&opts.EtcdPort, "etcd-port", 2379, "etcd's client port on 127.0.0.1")
	flag.IntVar(&opts.EtcdPeerPort, "etcd-peer-port", 2380, "etcd's peer port on 127.0.0.1")
	flag.Func("replicas", "instances of a stateless service, name=n (repeatable; default feed=2)", func(v string) error {
		name, n, ok := strings.Cut(v, "=")
		count, err := strconv.Atoi(n)
		if !ok || err != nil {
			return fmt.Errorf("want name=n, e.g. feed=3")
		}
		replicas[name] = count
		return nil
	})
	flag.BoolVar(&quiet, "quiet", false, "write the processes' output to their log files only")
	flag.Parse()
	opts.Replicas = replicas
	opts.Args = flag.Args()
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	if !quiet {
		opts.Stdout = os.Stdout
	}
	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	opts.RepoRoot = root

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, _ := filepath.Abs(opts.Dir)
	opts.Logger.Info("building the services", slog.String("bin", filepath.Join(dir, "bin")))
	if err := cluster.Build(ctx, root, dir); err != nil {
		fail(err)
	}
	c, err := cluster.Start(ctx, opts)
	if err != nil {
		fail(err)
	}
	code := 0
	select {
	case <-ctx.Done():
	case p := <-c.Exited():
		opts.Logger.Error("a process exited; stopping the cluster", slog.String("process", p.Name), slog.Any("error", p.Err), slog.String("log", p.Log))
		code = 1
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Stop(stopCtx); err != nil {
		opts.Logger.Error(err.Error())
		code = 1
	}
	os.Exit(code)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tremolo-cluster:", err)
	os.Exit(1)
}
