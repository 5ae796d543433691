package etcdtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/discovery/etcdtest"
)

func TestStopAndRestartKeepData(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := cli.Get(short, "k"); err == nil {
		t.Fatal("Get succeeded with the server stopped")
	}
	cancelShort()
	srv.Restart()
	r, err := cli.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
		t.Fatalf("after restart k = %v; want v", r.Kvs)
	}
}
