package dynconfig

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tremolo-dev/tremolo/platform/discovery/etcdtest"
)

func put(t *testing.T, cli *clientv3.Client, key, value string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Put(ctx, key, value)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func del(t *testing.T, cli *clientv3.Client, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
}

func TestEtcdSourcePutAndDelete(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	put(t, cli, "/tremolo/config/ratelimit", "rate: 1")
	put(t, cli, "/tremolo/config/deeper/path", "ignored")
	put(t, cli, "/tremolo/configx", "outside")
	logger, logs := newLogger(t)
	w := startWatcher(t, &EtcdSource{Client: cli, Logger: logger}, Options{})
	r := record(t, w, "ratelimit")
	r.expect(t, call{"rate: 1", true}, 0)
	if !strings.HasPrefix(w.Revision(), "etcd:") {
		t.Errorf("revision %q", w.Revision())
	}

	put(t, cli, "/tremolo/config/ratelimit", "rate: 2")
	r.expect(t, call{"rate: 2", true}, time.Second)
	put(t, cli, "/tremolo/config/ratelimit", "rate: 2") // same bytes
	r.expectNone(t, 200*time.Millisecond)
	del(t, cli, "/tremolo/config/ratelimit")
	r.expect(t, call{"", false}, time.Second)
	put(t, cli, "/tremolo/config/ratelimit", "rate: 3")
	r.expect(t, call{"rate: 3", true}, time.Second)

	// Several keys in one transaction arrive as one snapshot.
	other := record(t, w, "faults")
	other.expect(t, call{"", false}, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Txn(ctx).Then(
		clientv3.OpPut("/tremolo/config/faults", "f"),
		clientv3.OpPut("/tremolo/config/ratelimit", "rate: 4"),
	).Commit(); err != nil {
		t.Fatal(err)
	}
	other.expect(t, call{"f", true}, time.Second)
	r.expect(t, call{"rate: 4", true}, time.Second)

	if !strings.Contains(logs.String(), "/tremolo/config/deeper/path") {
		t.Errorf("the key below a deeper path is not logged as refused:\n%s", logs)
	}
}

// While etcd is away the documents stay; once it is back, changes arrive
// again.
func TestEtcdSourceSurvivesEtcdRestart(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	put(t, cli, "/tremolo/config/a", "a1")
	put(t, cli, "/tremolo/config/b", "b1")
	w := startWatcher(t, &EtcdSource{Client: cli}, Options{})
	a, b := record(t, w, "a"), record(t, w, "b")
	a.expect(t, call{"a1", true}, 0)
	b.expect(t, call{"b1", true}, 0)

	srv.Stop()
	a.expectNone(t, time.Second)
	b.expectNone(t, 0)
	srv.Restart()
	a.expectNone(t, 300*time.Millisecond) // no spurious change on reconnecting
	b.expectNone(t, 0)

	put(t, cli, "/tremolo/config/a", "a2")
	a.expect(t, call{"a2", true}, time.Second)
	del(t, cli, "/tremolo/config/b")
	b.expect(t, call{"", false}, time.Second)
}

// When the revisions a resuming watch needs were compacted, the source
// reads everything again rather than missing changes or dropping
// documents.
func TestEtcdSourceResyncsAfterCompaction(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	put(t, cli, "/tremolo/config/a", "a1")
	logger, logs := newLogger(t)
	w := startWatcher(t, &EtcdSource{Client: cli, Logger: logger}, Options{})
	a := record(t, w, "a")
	a.expect(t, call{"a1", true}, 0)

	// Writes outside the prefix move the store on without the watch
	// seeing a revision; compacting them away leaves the watch's resume
	// point behind the compaction.
	var rev int64
	for i := range 5 {
		rev = put(t, cli, "/elsewhere", fmt.Sprint(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Restart()
	a.expectNone(t, 500*time.Millisecond)
	put(t, cli, "/tremolo/config/a", "a2")
	a.expect(t, call{"a2", true}, 2*time.Second)
	if !strings.Contains(logs.String(), "compacted") {
		t.Errorf("the resumed watch was not refused for compaction:\n%s", logs)
	}
}

// Cut off from etcd while others change the documents, the source keeps
// the ones it has, then catches up: by resuming its watch, or by reading
// everything again when the revisions it missed are compacted.
func TestEtcdSourceCatchesUpAfterDisconnection(t *testing.T) {
	for _, compact := range []bool{false, true} {
		t.Run(fmt.Sprintf("compacted=%v", compact), func(t *testing.T) {
			srv := etcdtest.Start(t)
			admin := srv.Client(t)
			put(t, admin, "/tremolo/config/a", "a1")
			put(t, admin, "/tremolo/config/b", "b1")
			px := srv.Proxy(t)
			cli := px.Client(t)
			w := startWatcher(t, &EtcdSource{Client: cli, Logger: discard()}, Options{})
			a, b, c := record(t, w, "a"), record(t, w, "b"), record(t, w, "c")
			a.expect(t, call{"a1", true}, 0)
			b.expect(t, call{"b1", true}, 0)
			c.expect(t, call{"", false}, 0)

			px.Cut()
			put(t, admin, "/tremolo/config/a", "a2")
			del(t, admin, "/tremolo/config/b")
			rev := put(t, admin, "/tremolo/config/c", "c1")
			if compact {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := admin.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
					t.Fatal(err)
				}
			}
			a.expectNone(t, 500*time.Millisecond) // cut off: nothing changes, nothing is dropped
			b.expectNone(t, 0)
			px.Restore()
			a.expect(t, call{"a2", true}, 3*time.Second)
			b.expect(t, call{"", false}, time.Second)
			c.expect(t, call{"c1", true}, time.Second)
		})
	}
}

func TestEtcdFollowReportsCompaction(t *testing.T) {
	t.Parallel() // its own etcd, no tight timing
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	first := put(t, cli, "/tremolo/config/a", "1")
	last := put(t, cli, "/tremolo/config/a", "2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Compact(ctx, last); err != nil {
		t.Fatal(err)
	}
	f := &etcdFollower{cli: cli, prefix: DefaultPrefix, logger: discard(), ch: make(chan Snapshot, 1), refused: map[string]string{}, docs: map[string][]byte{}}
	if err := f.follow(ctx, first-1); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("follow from a compacted revision: %v, want ErrCompacted", err)
	}
}

func TestEtcdSourceNeedsAClientAndAPrefixEndingInSlash(t *testing.T) {
	if _, err := (&EtcdSource{}).Watch(context.Background()); err == nil || !strings.Contains(err.Error(), "-etcd-endpoints") {
		t.Errorf("no client: %v", err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := (&EtcdSource{Client: cli, Prefix: "/cfg"}).Watch(context.Background()); err == nil || !strings.Contains(err.Error(), "must end with '/'") {
		t.Errorf("prefix without a slash: %v", err)
	}
}
