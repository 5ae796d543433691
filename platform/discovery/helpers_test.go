package discovery

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tremolo-dev/tremolo/platform/discovery/etcdtest"
)

// registrantEnv makes the test binary, re-executed by the SIGKILL test, a
// process that registers an instance and blocks (TestMain).
const registrantEnv = "DISCOVERY_TEST_REGISTRANT"

func TestMain(m *testing.M) {
	if spec := os.Getenv(registrantEnv); spec != "" {
		os.Exit(runRegistrant(spec))
	}
	os.Exit(m.Run())
}

// runRegistrant is the child of TestEtcdSIGKILLedRegistrantDisappears:
// spec is "endpoint prefix"; it registers victim/child and waits to be
// killed.
func runRegistrant(spec string) int {
	endpoint, prefix, _ := strings.Cut(spec, " ")
	cli, err := dialEtcd([]string{endpoint}, 2*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	reg, err := NewEtcd(cli, EtcdOptions{Prefix: prefix, TTL: 2 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := reg.Register(ctx, Instance{Service: "victim", ID: "child", Addr: "127.0.0.1:1"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("registered")
	time.Sleep(time.Hour) // until SIGKILL
	return 0
}

// inst is a valid instance of service listening on addr.
func inst(service, id, addr string) Instance {
	return Instance{
		Service: service, ID: id, Addr: addr,
		Version: "1.2.0", Labels: map[string]string{"track": "stable"}, Zone: "az1",
	}
}

// ids lists the IDs of list, in its order.
func ids(list []Instance) []string {
	out := make([]string, len(list))
	for i, in := range list {
		out[i] = in.ID
	}
	return out
}

// recv receives one list within d.
func recv(t *testing.T, ch <-chan []Instance, d time.Duration) []Instance {
	t.Helper()
	select {
	case list, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return list
	case <-time.After(d):
		t.Fatalf("no instance list within %s", d)
		return nil
	}
}

// waitIDs receives lists until one has exactly want (sorted), within d.
func waitIDs(t *testing.T, ch <-chan []Instance, d time.Duration, want ...string) []Instance {
	t.Helper()
	deadline := time.After(d)
	var last []string
	for {
		select {
		case list, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed waiting for %v (last %v)", want, last)
			}
			last = ids(list)
			if slices.Equal(last, want) || (len(want) == 0 && len(last) == 0) {
				return list
			}
		case <-deadline:
			t.Fatalf("no list of %v within %s; last %v", want, d, last)
		}
	}
}

// newClient is an etcd client of srv, configured as Open configures it.
func newClient(t *testing.T, endpoints []string, timeout time.Duration) *clientv3.Client {
	t.Helper()
	cli, err := dialEtcd(endpoints, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// newEtcd is an Etcd registry closed when t ends.
func newEtcd(t *testing.T, cli *clientv3.Client, opts EtcdOptions) *Etcd {
	t.Helper()
	reg, err := NewEtcd(cli, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// deadEndpoint is an etcd endpoint nobody listens on.
func deadEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// backend is a real gRPC server on loopback serving the health service,
// counting the calls it gets.
type backend struct {
	addr  string
	calls atomic.Int64
	srv   *grpc.Server
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{addr: l.Addr().String()}
	b.srv = grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		b.calls.Add(1)
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(b.srv, health.NewServer())
	go b.srv.Serve(l)
	t.Cleanup(b.srv.Stop)
	return b
}

// dial is a client of tremolo:///service through reg, balancing round robin.
func dial(t *testing.T, reg Registry, static map[string][]string, service string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(Scheme+":///"+service,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(NewResolverBuilder(reg, static)),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// check makes one health call through conn.
func check(conn *grpc.ClientConn, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// waitCalls makes calls through conn until pred holds for the backends'
// call counts gained meanwhile, within d.
func waitCalls(t *testing.T, conn *grpc.ClientConn, d time.Duration, what string, pred func(gained []int64) bool, bs ...*backend) {
	t.Helper()
	start := make([]int64, len(bs))
	for i, b := range bs {
		start[i] = b.calls.Load()
	}
	deadline := time.Now().Add(d)
	for {
		_ = check(conn, time.Second)
		gained := make([]int64, len(bs))
		for i, b := range bs {
			gained[i] = b.calls.Load() - start[i]
		}
		if pred(gained) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (calls gained %v)", what, d, gained)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startEtcd starts an etcd server for t.
func startEtcd(t *testing.T) *etcdtest.Server { return etcdtest.Start(t) }
