package idlease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tremolo-dev/tremolo/platform/discovery/etcdtest"
	"github.com/tremolo-dev/tremolo/platform/ids"
)

// ttl is short so that the tests about expiry take seconds; etcd's
// minimum TTL (1.5 election timeouts, rounded up) is 2s by default.
const ttl = 2 * time.Second

func testOptions() Options {
	return Options{TTL: ttl, Logger: slog.New(slog.DiscardHandler)}
}

func acquire(t *testing.T, cli *clientv3.Client, opts Options) *Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := Acquire(ctx, cli, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

func next(t *testing.T, l *Lease) int64 {
	t.Helper()
	id, err := l.Next()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitUntil polls cond every few milliseconds for up to d.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func nodeOf(id int64) int64 {
	_, n, _, _ := ids.Parse(id)
	return n
}

func TestConcurrentAcquirersGetDistinctNodes(t *testing.T) {
	t.Parallel() // its own etcd, no tight timing
	srv := etcdtest.Start(t)
	var wg sync.WaitGroup
	leases := make([]*Lease, 3)
	errs := make([]error, 3)
	for i := range leases {
		cli := srv.Client(t) // separate clients, as separate processes have
		wg.Add(1)
		go func() {
			defer wg.Done()
			leases[i], errs[i] = Acquire(context.Background(), cli, testOptions())
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, l := range leases {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		defer l.Close(context.Background())
		if seen[l.Node()] {
			t.Errorf("node id %d leased twice", l.Node())
		}
		seen[l.Node()] = true
		if id := next(t, l); nodeOf(id) != l.Node() {
			t.Errorf("id %d carries node %d, want %d", id, nodeOf(id), l.Node())
		}
	}
}

// With all 32 node ids held, a 33rd acquirer is told so; closing one holder
// frees its id for the next acquirer at once.
func TestAllNodesHeld(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	held := make([]*Lease, 0, ids.MaxNode+1)
	for range ids.MaxNode + 1 {
		held = append(held, acquire(t, cli, testOptions()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Acquire(ctx, cli, testOptions())
	if !errors.Is(err, ErrNoFreeNode) || !strings.Contains(err.Error(), "all 32 node ids under /tremolo/ids/nodes/ are leased") {
		t.Fatalf("33rd Acquire: %v", err)
	}
	t.Log(err)

	victim := held[17]
	node := victim.Node()
	last := next(t, victim)
	start := time.Now()
	if err := victim.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := victim.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
	l := acquire(t, cli, testOptions())
	if l.Node() != node {
		t.Errorf("after closing node %d's holder, the next acquirer got %d", node, l.Node())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("reuse took %v: Close should free the id at once", d)
	}
	if id := next(t, l); id <= last {
		t.Errorf("the new holder's first id %d is not after the old holder's last %d", id, last)
	}

	// A smaller space says its own size.
	_, err = Acquire(ctx, cli, Options{TTL: ttl, Nodes: 4})
	if !errors.Is(err, ErrNoFreeNode) || !strings.Contains(err.Error(), "all 4 node ids") {
		t.Errorf("Acquire in a full space of 4: %v", err)
	}
}

func TestIDsFromTwoLeasesNeverCollide(t *testing.T) {
	t.Parallel() // its own etcd, no tight timing
	srv := etcdtest.Start(t)
	a := acquire(t, srv.Client(t), testOptions())
	b := acquire(t, srv.Client(t), testOptions())
	const workers, each = 4, 3000
	var mu sync.Mutex
	seen := make(map[int64]bool, 2*workers*each)
	var wg sync.WaitGroup
	for _, l := range []*Lease{a, b} {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got := make([]int64, 0, each)
				for range each {
					id, err := l.Next()
					if err != nil {
						t.Error(err)
						return
					}
					got = append(got, id)
				}
				for i := 1; i < len(got); i++ {
					if got[i] <= got[i-1] {
						t.Errorf("ids not increasing: %d then %d", got[i-1], got[i])
					}
				}
				mu.Lock()
				defer mu.Unlock()
				for _, id := range got {
					if seen[id] {
						t.Errorf("id %d issued twice", id)
					}
					seen[id] = true
				}
			}()
		}
	}
	wg.Wait()
	if len(seen) != 2*workers*each {
		t.Errorf("%d distinct ids, want %d", len(seen), 2*workers*each)
	}
}

// etcd away for longer than the TTL: Next fails before the lease can have
// expired, and works again once etcd is back.
func TestEtcdDownStopsIDsUntilItReturns(t *testing.T) {
	srv := etcdtest.Start(t)
	l := acquire(t, srv.Client(t), testOptions())
	before := next(t, l)

	srv.Stop()
	stopped := time.Now()
	var failedAt time.Time
	var lastErr error
	if !waitUntil(2*ttl, func() bool {
		_, lastErr = l.Next()
		failedAt = time.Now()
		return lastErr != nil
	}) {
		t.Fatal("Next still works long after etcd stopped")
	}
	if !errors.Is(lastErr, ErrLost) {
		t.Errorf("Next: %v, want ErrLost", lastErr)
	}
	// The last keep-alive was before the stop: ids must stop at least
	// Margin before stop+TTL.
	if failedAt.After(stopped.Add(ttl - l.opts.Margin/2)) {
		t.Errorf("ids stopped %v after etcd did; the lease could expire %v after", failedAt.Sub(stopped), ttl)
	}
	t.Logf("ids stopped %v after etcd: %v", failedAt.Sub(stopped).Round(time.Millisecond), lastErr)
	time.Sleep(time.Until(stopped.Add(ttl + 100*time.Millisecond))) // longer than the TTL
	if _, err := l.Next(); !errors.Is(err, ErrLost) {
		t.Fatalf("Next with etcd down for %v: %v", time.Since(stopped), err)
	}

	srv.Restart()
	restarted := time.Now()
	if !waitUntil(10*time.Second, func() bool { return l.Err() == nil }) {
		t.Fatalf("ids did not resume after etcd returned: %v", l.Err())
	}
	t.Logf("ids resumed %v after etcd answered again", time.Since(restarted).Round(time.Millisecond))
	if id := next(t, l); id <= before {
		t.Errorf("id %d after the outage is not after %d", id, before)
	}
}

// The real danger: a holder cut off from etcd while etcd works, so its
// lease expires and another process takes its node id. The cut-off holder
// must have stopped issuing ids before the other one starts.
func TestCutOffHolderStopsBeforeTheNextHolderStarts(t *testing.T) {
	srv := etcdtest.Start(t)
	px := srv.Proxy(t)
	cutCli := px.Client(t)
	opts := testOptions()
	opts.Nodes = 1 // one node id: the second holder must take the first's
	a := acquire(t, cutCli, opts)
	other := srv.Client(t)

	var mu sync.Mutex
	var aIDs []int64
	var aLast time.Time
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a issues ids as fast as it may
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if id, err := a.Next(); err == nil {
				mu.Lock()
				aIDs, aLast = append(aIDs, id), time.Now()
				mu.Unlock()
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	px.Cut()
	cutAt := time.Now()

	var b *Lease
	var err error
	ok := waitUntil(4*ttl, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		b, err = Acquire(ctx, other, opts)
		return err == nil
	})
	bStart := time.Now()
	t.Logf("b took the node id %v after the cut", bStart.Sub(cutAt).Round(time.Millisecond))
	if !ok {
		t.Fatalf("the node id never became free: %v", err)
	}
	defer b.Close(context.Background())
	mu.Lock()
	gap := bStart.Sub(aLast)
	mu.Unlock()
	if gap < opts.Margin/2 {
		t.Errorf("the cut-off holder issued an id %v before the next holder took its node id", gap)
	}
	t.Logf("cut-off holder's last id %v before the node id was taken over", gap.Round(time.Millisecond))

	bIDs := []int64{next(t, b), next(t, b)}
	// a comes back: its node id is taken and the space has one, so it
	// stays without ids, saying why.
	px.Restore()
	time.Sleep(ttl / 2) // a few claim attempts
	if err := a.Err(); !errors.Is(err, ErrLost) {
		t.Errorf("a holder whose node id was taken over: %v, want ErrLost", err)
	}
	// b leaves: a gets the node id back, and its ids come after b's.
	bIDs = append(bIDs, next(t, b))
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	if !waitUntil(5*ttl, func() bool { return a.Err() == nil }) {
		t.Fatalf("a did not regain the node id: %v", a.Err())
	}
	t.Logf("a regained the node id %v after b freed it", time.Since(freed).Round(time.Millisecond))
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	seen := map[int64]string{}
	for _, id := range bIDs {
		seen[id] = "b"
	}
	for _, id := range aIDs {
		if seen[id] != "" {
			t.Fatalf("id %d issued by a and by %s", id, seen[id])
		}
		seen[id] = "a"
	}
	for i := 1; i < len(aIDs); i++ {
		if aIDs[i] <= aIDs[i-1] {
			t.Fatalf("a's ids not increasing: %d then %d", aIDs[i-1], aIDs[i])
		}
	}
	if aIDs[len(aIDs)-1] <= bIDs[len(bIDs)-1] {
		t.Errorf("a's ids after regaining the node id (%d) are not after b's (%d)", aIDs[len(aIDs)-1], bIDs[len(bIDs)-1])
	}
}

// A key deleted by hand stops the holder at once; it claims an id again,
// and its ids keep increasing even when the new node id is lower.
func TestDeletedKeyStopsAndReclaims(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	first := acquire(t, cli, testOptions()) // node 0
	l := acquire(t, cli, testOptions())     // node 1
	if l.Node() != 1 {
		t.Fatalf("second holder got node %d", l.Node())
	}
	if err := first.Close(context.Background()); err != nil { // node 0 free
		t.Fatal(err)
	}
	var got []int64
	for range 200 {
		got = append(got, next(t, l))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Someone takes node 1 from under l: its key overwritten with
	// another lease.
	g, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, l.nodeKey(1), "intruder", clientv3.WithLease(g.ID)); err != nil {
		t.Fatal(err)
	}
	// It regains one so fast that polling might miss the gap: the
	// counter of losses tells.
	if !waitUntil(time.Second, func() bool { return testutil.ToFloat64(l.metrics.lost) == 1 }) {
		t.Fatal("the holder did not notice its key was taken")
	}
	if !waitUntil(5*time.Second, func() bool { return l.Err() == nil }) {
		t.Fatalf("no node id regained: %v", l.Err())
	}
	if l.Node() != 0 {
		t.Errorf("regained node %d, want 0 (the free one)", l.Node())
	}
	for range 200 {
		got = append(got, next(t, l))
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("ids not increasing across the change of node id: %d (node %d) then %d (node %d)", got[i-1], nodeOf(got[i-1]), got[i], nodeOf(got[i]))
		}
	}
}

func TestOptionsSayWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Prefix: "/ids"}, "must end with '/'"},
		{Options{TTL: -time.Second}, "negative"},
		{Options{TTL: 10 * time.Second, Margin: 6 * time.Second}, "between 0 and half the TTL"},
		{Options{Nodes: 33}, "33 nodes: want 1 to 32"},
	} {
		_, err := tc.opts.withDefaults()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error saying %q", tc.opts, err, tc.want)
		}
	}
	o, err := Options{TTL: 1500 * time.Millisecond}.withDefaults()
	if err != nil || o.TTL != 2*time.Second || o.Margin != 400*time.Millisecond || o.Nodes != 32 || o.Prefix != DefaultPrefix || o.Holder == "" {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if _, err := Acquire(context.Background(), nil, Options{}); err == nil || !strings.Contains(err.Error(), "-etcd-endpoints") {
		t.Errorf("nil client: %v", err)
	}
}

func ExampleAcquire() {
	var cli *clientv3.Client // discovery's client
	if cli == nil {
		return
	}
	lease, err := Acquire(context.Background(), cli, Options{})
	if err != nil {
		panic(err) // e.g. all 32 node ids are leased
	}
	defer lease.Close(context.Background())
	id, err := lease.Next()
	fmt.Println(id, err)
}
