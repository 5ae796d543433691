package discovery

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestEtcdContract(t *testing.T) {
	t.Parallel()
	srv := startEtcd(t)
	cli := newClient(t, srv.Endpoints(), 2*time.Second)
	var n atomic.Int64
	testContract(t, func(t *testing.T) Registry {
		// Registries of one etcd, kept apart by their prefixes.
		return newEtcd(t, cli, EtcdOptions{Prefix: fmt.Sprintf("/contract/%d/", n.Add(1)), TTL: 2 * time.Second})
	})
}

func TestEtcdDeregisterDeletesTheKeyAtOnce(t *testing.T) {
	t.Parallel()
	srv := startEtcd(t)
	cli := newClient(t, srv.Endpoints(), 2*time.Second)
	reg := newEtcd(t, cli, EtcdOptions{TTL: 5 * time.Second})
	ctx := context.Background()
	r, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001"))
	if err != nil {
		t.Fatal(err)
	}
	key := DefaultPrefix + "user/u1"
	resp, err := cli.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("after Register, Get(%s) = %v, %v; want the instance", key, resp, err)
	}
	if got, err := Unmarshal(resp.Kvs[0].Value); err != nil || got.Addr != "127.0.0.1:9001" || resp.Kvs[0].Lease == 0 {
		t.Fatalf("stored %s (lease %x): %v; want the instance under a lease", resp.Kvs[0].Value, resp.Kvs[0].Lease, err)
	}
	if err := r.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err = cli.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("after Deregister, Get(%s) = %v, %v; want nothing", key, resp.Kvs, err)
	}
	leases, err := cli.Leases(ctx)
	if err != nil || len(leases.Leases) != 0 {
		t.Fatalf("leases after Deregister: %v, %v; want none", leases, err)
	}
}

func TestEtcdRepublishesAfterItsLeaseIsRevoked(t *testing.T) {
	t.Parallel()
	srv := startEtcd(t)
	cli := newClient(t, srv.Endpoints(), 2*time.Second)
	reg := newEtcd(t, cli, EtcdOptions{TTL: 2 * time.Second})
	ctx := context.Background()
	if _, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001")); err != nil {
		t.Fatal(err)
	}
	ch, err := reg.Watch(ctx, "user")
	if err != nil {
		t.Fatal(err)
	}
	waitIDs(t, ch, 5*time.Second, "u1")
	// Someone (an operator, an expiry after a long pause) removes the lease.
	leases, err := cli.Leases(ctx)
	if err != nil || len(leases.Leases) != 1 {
		t.Fatalf("leases: %v, %v; want one", leases, err)
	}
	if _, err := cli.Revoke(ctx, leases.Leases[0].ID); err != nil {
		t.Fatal(err)
	}
	waitIDs(t, ch, time.Second)
	start := time.Now()
	waitIDs(t, ch, 5*time.Second, "u1")
	t.Logf("published again after %s", time.Since(start))
}

func TestEtcdSkipsInvalidValues(t *testing.T) {
	t.Parallel()
	srv := startEtcd(t)
	cli := newClient(t, srv.Endpoints(), 2*time.Second)
	reg := newEtcd(t, cli, EtcdOptions{TTL: 2 * time.Second})
	ctx := context.Background()
	other, _ := inst("user", "other", "127.0.0.1:9001").Marshal()
	garbage := map[string]string{
		"user/junk":    "not json",
		"user/badaddr": `{"service":"user","id":"badaddr","addr":"nowhere"}`,
		"user/wrongid": string(other), // an instance under another id's key
		"user/a/b":     `{"service":"user","id":"a/b","addr":"127.0.0.1:1"}`,
	}
	for k, v := range garbage {
		if _, err := cli.Put(ctx, DefaultPrefix+k, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001")); err != nil {
		t.Fatal(err)
	}
	ch, err := reg.Watch(ctx, "user")
	if err != nil {
		t.Fatal(err)
	}
	waitIDs(t, ch, 5*time.Second, "u1")
	// Garbage arriving while watching is skipped too, and a valid instance
	// turning invalid leaves the list.
	if _, err := cli.Put(ctx, DefaultPrefix+"user/late", "{"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(ctx, inst("user", "u2", "127.0.0.1:9002")); err != nil {
		t.Fatal(err)
	}
	waitIDs(t, ch, time.Second, "u1", "u2")
	if _, err := cli.Put(ctx, DefaultPrefix+"user/u2", "[]"); err != nil {
		t.Fatal(err)
	}
	waitIDs(t, ch, time.Second, "u1")
}

// TestEtcdSIGKILLedRegistrantDisappears kills a registered process without
// letting it deregister: etcd drops its instance when the lease runs out.
func TestEtcdSIGKILLedRegistrantDisappears(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	srv := startEtcd(t)
	cli := newClient(t, srv.Endpoints(), 2*time.Second)
	const prefix = "/sigkill/"
	key := prefix + "victim/child"

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), registrantEnv+"="+srv.Endpoint+" "+prefix)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = cmd.Process.Kill() // SIGKILL: no deferred code, no deregistration
			_ = cmd.Wait()
		})
	}
	t.Cleanup(kill)
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != "registered" {
			t.Fatalf("registrant said %q; stderr:\n%s", l, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the registrant did not register within 20s")
	}

	ctx := context.Background()
	// Let it keep its lease alive a while: what expires must be a lease
	// that was being renewed, not the first grant.
	time.Sleep(ttl)
	if resp, err := cli.Get(ctx, key); err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("the live registrant's key: %v, %v", resp, err)
	}
	killed := time.Now()
	kill()
	for {
		resp, err := cli.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) == 0 {
			break
		}
		if time.Since(killed) > ttl+time.Second {
			t.Fatalf("the killed registrant's key %s is still there %s after SIGKILL (TTL %s)", key, time.Since(killed), ttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("gone %s after SIGKILL (TTL %s)", time.Since(killed).Round(time.Millisecond), ttl)
}

// TestEtcdOutageUnderLoad stops etcd under a steady stream of calls: the
// calls keep reaching the instances the resolver last saw, a registration
// made during the outage is published when etcd returns, and the instances
// registered before are re-published under new leases.
func TestEtcdOutageUnderLoad(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	srv := startEtcd(t)
	cli := newClient(t, srv.Endpoints(), 500*time.Millisecond)
	reg := newEtcd(t, cli, EtcdOptions{TTL: ttl, Timeout: 500 * time.Millisecond})
	ctx := context.Background()
	a, b, c := startBackend(t), startBackend(t), startBackend(t)
	for i, be := range []*backend{a, b} {
		if _, err := reg.Register(ctx, inst("load", fmt.Sprintf("i%d", i), be.addr)); err != nil {
			t.Fatal(err)
		}
	}
	conn := dial(t, reg, nil, "load")
	both := func(g []int64) bool { return g[0] > 0 && g[1] > 0 }
	waitCalls(t, conn, 10*time.Second, "calls reach both instances", both, a, b)

	var calls, failures atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			calls.Add(1)
			if err := check(conn, 2*time.Second); err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()

	srv.Stop()
	downAt := time.Now()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	rc, err := reg.Register(ctx, inst("load", "i2", c.addr))
	if err != nil {
		t.Fatalf("Register while etcd is down: %v", err)
	}
	t.Logf("Register returned after %s with etcd down", time.Since(start).Round(time.Millisecond))
	// Stay down longer than the TTL: every keep-alive gives up.
	time.Sleep(ttl + time.Second - time.Since(downAt))
	srv.Restart()
	t.Logf("etcd was down for %s", time.Since(downAt).Round(time.Millisecond))

	waitCalls(t, conn, 15*time.Second, "the instance registered during the outage gets calls", func(g []int64) bool { return g[0] > 0 }, c)
	// Once the old leases, which the restart extended, have run out, all
	// three must still be there: re-published under new leases.
	time.Sleep(ttl + time.Second)
	resp, err := cli.Get(ctx, DefaultPrefix+"load/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 3 {
		var keys []string
		for _, kv := range resp.Kvs {
			keys = append(keys, string(kv.Key))
		}
		t.Fatalf("after the outage etcd holds %v; want the three instances", keys)
	}
	waitCalls(t, conn, 5*time.Second, "calls reach all three", func(g []int64) bool { return g[0] > 0 && g[1] > 0 && g[2] > 0 }, a, b, c)
	close(stop)
	<-loopDone
	t.Logf("%d calls, %d failures", calls.Load(), failures.Load())
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d calls failed during the outage; first: %v", n, calls.Load(), firstErr.Load())
	}
	if err := rc.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestEtcdSnapshotWhenEtcdIsDownAtStart starts a process while etcd is
// down: its watch sends the list an earlier process saved, then the live
// one when etcd returns.
func TestEtcdSnapshotWhenEtcdIsDownAtStart(t *testing.T) {
	t.Parallel()
	srv := startEtcd(t)
	dir := t.TempDir()
	ctx := context.Background()
	cli1 := newClient(t, srv.Endpoints(), time.Second)
	reg1 := newEtcd(t, cli1, EtcdOptions{TTL: 5 * time.Second, SnapshotDir: dir, Timeout: time.Second})
	for _, id := range []string{"s1", "s2"} {
		if _, err := reg1.Register(ctx, inst("snap", id, "127.0.0.1:9001")); err != nil {
			t.Fatal(err)
		}
	}
	ch1, err := reg1.Watch(ctx, "snap")
	if err != nil {
		t.Fatal(err)
	}
	waitIDs(t, ch1, 5*time.Second, "s1", "s2")
	deadline := time.Now().Add(5 * time.Second)
	for {
		list, _, ok, err := readSnapshot(dir, "snap")
		if err != nil {
			t.Fatal(err)
		}
		if ok && strings.Join(ids(list), ",") == "s1,s2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot: %v, %v; want s1,s2", ok, ids(list))
		}
		time.Sleep(20 * time.Millisecond)
	}

	srv.Stop()
	cli2 := newClient(t, srv.Endpoints(), 500*time.Millisecond)
	reg2 := newEtcd(t, cli2, EtcdOptions{SnapshotDir: dir, Timeout: 500 * time.Millisecond})
	start := time.Now()
	ch2, err := reg2.Watch(ctx, "snap")
	if err != nil {
		t.Fatal(err)
	}
	list := waitIDs(t, ch2, 3*time.Second, "s1", "s2")
	t.Logf("snapshot list after %s", time.Since(start).Round(time.Millisecond))
	if !equalLists(list, []Instance{inst("snap", "s1", "127.0.0.1:9001"), inst("snap", "s2", "127.0.0.1:9001")}) {
		t.Fatalf("snapshot list %+v", list)
	}

	srv.Restart()
	if _, err := reg1.Register(ctx, inst("snap", "s3", "127.0.0.1:9001")); err != nil {
		t.Fatal(err)
	}
	waitIDs(t, ch2, 15*time.Second, "s1", "s2", "s3")
}
