// Command unary measures what the platform costs on a unary RPC: the user
// service's GetUser served through its generated fx module (request ids,
// metrics, error conversion, recovery, method timeouts) against the same
// implementation, on the same store, registered on a bare grpc-go server.
// Both servers run in this process on loopback; the runs alternate so that
// drift of the machine affects both alike.
//
//	go run ./tools/bench/unary -duration 5s -rounds 5 -concurrency 32 [-deadline 0]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/fx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/user"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "length of each measured run")
	rounds := flag.Int("rounds", 3, "runs per server, alternating")
	concurrency := flag.Int("concurrency", 32, "concurrent callers")
	conns := flag.Int("conns", 4, "client connections the callers share")
	deadline := flag.Duration("deadline", time.Second, "deadline of each call, as production clients set one (0: none)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "unary:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "unary:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*duration, *rounds, *concurrency, *conns, *deadline); err != nil {
		fmt.Fprintln(os.Stderr, "unary:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(duration time.Duration, rounds, concurrency, conns int, deadline time.Duration) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tremolo-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	platformAddr, svc, stopPlatform, err := startPlatform(dir)
	if err != nil {
		return err
	}
	defer stopPlatform()
	bareAddr, stopBare, err := startBare(svc)
	if err != nil {
		return err
	}
	defer stopBare()

	reg, err := svc.Register(ctx, &userv1.RegisterRequest{Username: "bench", Password: "bench"})
	if err != nil {
		return err
	}
	req := &userv1.GetUserRequest{UserId: reg.UserId}
	results := map[string][]result{}
	for r := 0; r < rounds; r++ {
		for _, target := range []struct{ name, addr string }{{"bare grpc-go", bareAddr}, {"tremolo generated", platformAddr}} {
			res, err := load(target.addr, req, duration, concurrency, conns, deadline)
			if err != nil {
				return fmt.Errorf("%s: %w", target.name, err)
			}
			results[target.name] = append(results[target.name], res)
			fmt.Printf("round %d  %-18s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  errors %d\n", r+1, target.name, res.qps, ms(res.p50), ms(res.p99), res.errors)
		}
	}
	bare, plat := median(results["bare grpc-go"]), median(results["tremolo generated"])
	fmt.Printf("\nmedian of %d rounds, %s each, %d callers on %d connections, call deadline %v (GOMAXPROCS %d)\n", rounds, duration, concurrency, conns, deadline, runtime.GOMAXPROCS(0))
	fmt.Printf("| server | req/s | p50 ms | p99 ms |\n|---|---|---|---|\n")
	fmt.Printf("| bare grpc-go (baseline) | %.0f | %.3f | %.3f |\n", bare.qps, ms(bare.p50), ms(bare.p99))
	fmt.Printf("| tremolo generated, all hooks | %.0f | %.3f | %.3f |\n", plat.qps, ms(plat.p50), ms(plat.p99))
	fmt.Printf("ratio (tremolo / bare): %.2f\n", plat.qps/bare.qps)
	return nil
}

// startBare registers the very implementation the platform runs on a bare
// grpc-go server: no interceptors, no health, no reflection.
func startBare(svc userv1.UserServiceServer) (string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	s := grpc.NewServer()
	userv1.RegisterUserServiceServer(s, svc)
	go func() { _ = s.Serve(lis) }()
	return lis.Addr().String(), s.Stop, nil
}

// startPlatform runs the user service exactly as its binary does (SQLite in
// dir, logging at info: no per-request lines) and returns the address and
// the implementation instance.
func startPlatform(dir string) (string, userv1.UserServiceServer, func(), error) {
	cfg := app.Config{
		Server:  server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: time.Second},
		DataDir: dir,
	}
	cfg.Log.Level, cfg.Log.Format = "info", "json"
	var (
		srv *server.Server
		svc userv1.UserServiceServer
	)
	a := fx.New(
		app.Options(cfg),
		fx.Supply(user.Config{}, token.Config{Key: "bench-key-bench-key-bench-key-bench", TTL: time.Hour}),
		user.Module,
		fx.Populate(&srv, &svc),
	)
	if err := a.Start(context.Background()); err != nil {
		return "", nil, nil, err
	}
	return srv.GRPCAddr().String(), svc, func() { _ = a.Stop(context.Background()) }, nil
}

type result struct {
	qps      float64
	p50, p99 time.Duration
	errors   int64
}

func load(addr string, req *userv1.GetUserRequest, duration time.Duration, concurrency, nconns int, deadline time.Duration) (result, error) {
	clients := make([]userv1.UserServiceClient, nconns)
	for i := range clients {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return result{}, err
		}
		defer cc.Close()
		clients[i] = userv1.NewUserServiceClient(cc)
		if _, err := clients[i].GetUser(context.Background(), req); err != nil { // warm up the connection
			return result{}, err
		}
	}
	var (
		wg        sync.WaitGroup
		errs      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
	)
	end := time.Now().Add(duration)
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(c userv1.UserServiceClient) {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(end) {
				t0 := time.Now()
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if deadline > 0 {
					ctx, cancel = context.WithTimeout(ctx, deadline)
				}
				_, err := c.GetUser(ctx, req)
				cancel()
				if err != nil {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}(clients[w%nconns])
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	if len(latencies) == 0 {
		return result{}, fmt.Errorf("no successful call (%d errors)", errs.Load())
	}
	return result{
		qps:    float64(len(latencies)) / elapsed.Seconds(),
		p50:    latencies[len(latencies)/2],
		p99:    latencies[len(latencies)*99/100],
		errors: errs.Load(),
	}, nil
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
