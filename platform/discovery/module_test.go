package discovery

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

func TestModuleMemory(t *testing.T) {
	var reg Registry
	var tmpl Instance
	app := fxtest.New(t,
		fx.Supply(Config{Version: "1.0.0", Zone: "az1"}),
		Module,
		fx.Populate(&reg, &tmpl),
	)
	app.RequireStart()
	if _, ok := reg.(*Memory); !ok {
		t.Fatalf("registry %T; want *Memory by default", reg)
	}
	if tmpl.Version != "1.0.0" || tmpl.Zone != "az1" || tmpl.Service != "" {
		t.Fatalf("template %+v", tmpl)
	}
	app.RequireStop()
	if _, err := reg.Watch(context.Background(), "user"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Watch after stop = %v; want ErrClosed", err)
	}
}

// TestModuleEtcd: the module's etcd registry works, and stopping the app
// withdraws its instances and closes its client.
func TestModuleEtcd(t *testing.T) {
	t.Parallel()
	srv := startEtcd(t)
	cli := newClient(t, srv.Endpoints(), 2*time.Second)
	var reg Registry
	app := fxtest.New(t,
		fx.Supply(Config{Registry: RegistryEtcd, EtcdEndpoints: srv.Endpoints(), TTL: 2 * time.Second}),
		Module,
		fx.Populate(&reg),
	)
	app.RequireStart()
	ctx := context.Background()
	if _, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001")); err != nil {
		t.Fatal(err)
	}
	if resp, err := cli.Get(ctx, DefaultPrefix+"user/u1"); err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("registered key: %v, %v", resp, err)
	}
	app.RequireStop()
	if resp, err := cli.Get(ctx, DefaultPrefix+"user/u1"); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("key after the app stopped: %v, %v; want none", resp.Kvs, err)
	}
	if err := reg.(*ownedEtcd).cli.Ctx().Err(); err == nil {
		t.Fatal("the module's etcd client is still open after stop")
	}
}
