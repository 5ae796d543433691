package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tremolo-dev/tremolo/tools/cluster"
)

// startCluster starts the distributed mode (tools/cluster) with the edge
// on middleware mw, seeds its feed like an all-in-one's, and returns it as
// a target whose server CPU is every process's, etcd's included.
func startCluster(dir, mw, chain string, serverArgs []string) (target, func(), error) {
	root, err := os.Getwd()
	if err != nil {
		return target{}, nil, err
	}
	cdir := filepath.Join(dir, "cluster")
	ctx := context.Background()
	if err := cluster.Build(ctx, root, cdir); err != nil {
		return target{}, nil, err
	}
	port := func() int {
		_, p, _ := strings.Cut(freeAddr(), ":")
		n, _ := strconv.Atoi(p)
		return n
	}
	edgeArgs := edgeArgs(mw, chain, dir, "wasm-cache-cluster")
	c, err := cluster.Start(ctx, cluster.Options{
		Dir: cdir, RepoRoot: root,
		EdgeAddr: freeAddr(), MediaAddr: freeAddr(), EtcdPort: port(), EtcdPeerPort: port(),
		Args:        append([]string{"-log-level", "warn"}, serverArgs...),
		ServiceArgs: map[string][]string{"edge": edgeArgs},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return target{}, nil, err
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Stop(sctx)
	}
	feedURL, err := seedFeed(c.EdgeURL)
	if err != nil {
		stop()
		return target{}, nil, fmt.Errorf("seeding the distributed mode's feed: %w", err)
	}
	var pids []int
	for _, p := range c.Processes() {
		pids = append(pids, p.PID())
	}
	pids = append(pids, c.EtcdPID())
	return target{name: "feed/" + mw + ",distributed", url: feedURL, pid: pids, base: c.EdgeURL}, stop, nil
}
