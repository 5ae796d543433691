package idlease

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/tremolo-dev/tremolo/platform/discovery/etcdtest"
)

func TestConfigFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"-ids-lease-ttl=3s"}); err != nil {
		t.Fatal(err)
	}
	if c != (Config{Prefix: DefaultPrefix, TTL: 3 * time.Second}) {
		t.Errorf("parsed %+v", c)
	}
}

func TestModule(t *testing.T) {
	t.Parallel() // its own etcd, no tight timing
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	var l *Lease
	app := fxtest.New(t,
		fx.Supply(Config{Prefix: DefaultPrefix, TTL: ttl}, slog.New(slog.DiscardHandler), cli),
		Module,
		fx.Populate(&l),
	)
	if _, err := l.Next(); !errors.Is(err, ErrLost) {
		t.Errorf("Next before the app starts: %v, want ErrLost", err)
	}
	app.RequireStart()
	if _, err := l.Next(); err != nil {
		t.Fatal(err)
	}
	key := l.nodeKey(l.Node())
	app.RequireStop()
	if _, err := l.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after the app stopped: %v, want ErrClosed", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 0 {
		t.Errorf("the node id's key after the app stopped: %v, %v", resp.Kvs, err)
	}
	until, err := cli.Get(ctx, DefaultPrefix+"until/0")
	if err != nil || len(until.Kvs) != 1 {
		t.Errorf("the last millisecond used was not recorded: %v, %v", until, err)
	}
}

// A service that makes ids starts while etcd is down: ids fail until etcd
// returns, then the Lease claims a node id on its own.
// moduleWithEtcdDown builds the module on an etcd that is stopped.
func moduleWithEtcdDown(t *testing.T) (*etcdtest.Server, *fxtest.App, *Lease) {
	t.Helper()
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	srv.Stop()
	var l *Lease
	app := fxtest.New(t,
		fx.Supply(Config{Prefix: DefaultPrefix, TTL: ttl}, slog.New(slog.DiscardHandler), cli),
		Module,
		fx.Populate(&l),
	)
	return srv, app, l
}

func TestModuleStartsWhileEtcdIsDown(t *testing.T) {
	t.Parallel()
	srv, app, l := moduleWithEtcdDown(t)
	began := time.Now()
	app.RequireStart()
	if d := time.Since(began); d > startWait+2*time.Second {
		t.Errorf("starting with etcd down took %v", d)
	}
	if _, err := l.Next(); !errors.Is(err, ErrLost) {
		t.Fatalf("Next with etcd down: %v, want ErrLost", err)
	}
	srv.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := l.Next()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no node id 15s after etcd returned: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	app.RequireStop()
}

// Stopping while the Lease is still trying for a node id ends at once.
func TestModuleStopsWhileStillTrying(t *testing.T) {
	t.Parallel()
	_, app, l := moduleWithEtcdDown(t)
	app.RequireStart()
	began := time.Now()
	app.RequireStop()
	if d := time.Since(began); d > closeWait+time.Second {
		t.Errorf("stopping took %v", d)
	}
	if _, err := l.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after the stop: %v, want ErrClosed", err)
	}
}
