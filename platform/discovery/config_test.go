package discovery

import (
	"flag"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	return c, fs.Parse(args)
}

func TestConfigDefaults(t *testing.T) {
	c, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.Registry != RegistryMemory || c.Prefix != DefaultPrefix || c.TTL != DefaultTTL || c.Timeout != DefaultTimeout || c.SnapshotDir != "" {
		t.Fatalf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFlags(t *testing.T) {
	c, err := parse(t,
		"-registry", "etcd",
		"-etcd-endpoints", "http://10.0.0.1:2379, http://10.0.0.2:2379",
		"-registry-prefix", "/x/",
		"-registry-ttl", "5s",
		"-registry-snapshot-dir", "/var/lib/tremolo/registry",
		"-discovery-static", "user=10.0.0.5:9000,10.0.0.6:9000,feed=10.0.0.7:9000",
		"-discovery-static", "user=10.0.0.8:9000",
		"-instance-version", "1.5.0-canary.1",
		"-instance-labels", "track=canary,exp=a",
		"-instance-labels", "team=feed",
		"-instance-zone", "az2",
		"-instance-cell", "c3",
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.EtcdEndpoints, []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}) {
		t.Errorf("endpoints %q", c.EtcdEndpoints)
	}
	wantStatic := map[string][]string{"user": {"10.0.0.5:9000", "10.0.0.6:9000", "10.0.0.8:9000"}, "feed": {"10.0.0.7:9000"}}
	if !maps.EqualFunc(c.Static, wantStatic, slices.Equal) {
		t.Errorf("static %v; want %v", c.Static, wantStatic)
	}
	tmpl := c.Template()
	if tmpl.Version != "1.5.0-canary.1" || tmpl.Zone != "az2" || tmpl.Cell != "c3" ||
		!maps.Equal(tmpl.Labels, map[string]string{"track": "canary", "exp": "a", "team": "feed"}) {
		t.Errorf("template %+v", tmpl)
	}
	if o := c.EtcdOptions(); o.Prefix != "/x/" || o.TTL != 5*time.Second || o.SnapshotDir != "/var/lib/tremolo/registry" {
		t.Errorf("etcd options %+v", o)
	}
}

func TestConfigRefusesBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"-discovery-static", "10.0.0.5:9000"},
		{"-discovery-static", "user=nohost"},
		{"-discovery-static", "a/b=10.0.0.5:9000"},
		{"-instance-labels", "=x"},
		{"-instance-labels", "novalue"},
		{"-etcd-endpoints", " , "},
		{"-registry-ttl", "soon"},
	} {
		if _, err := parse(t, args...); err == nil {
			t.Errorf("%q parsed", args)
		}
	}
	for _, c := range []Config{
		{Registry: "zookeeper"},
		{Registry: RegistryEtcd},
		{Registry: RegistryEtcd, EtcdEndpoints: []string{"http://e:2379"}, TTL: 500 * time.Millisecond},
		{Version: "latest"},
		{Static: map[string][]string{"user": {"nohost"}}},
	} {
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "discovery: ") {
			t.Errorf("Validate(%+v) = %v; want a discovery error", c, err)
		}
		if _, err := Open(c, nil); err == nil {
			t.Errorf("Open(%+v) succeeded", c)
		}
	}
}

func TestNewEtcdRefusesBadOptions(t *testing.T) {
	if _, err := NewEtcd(nil, EtcdOptions{}); err == nil {
		t.Error("NewEtcd(nil) succeeded")
	}
	cli := newClient(t, []string{deadEndpoint(t)}, 100*time.Millisecond)
	for _, o := range []EtcdOptions{
		{TTL: 500 * time.Millisecond},
		{TTL: -time.Second},
		{TTL: 48 * time.Hour},
		{Timeout: -time.Second},
	} {
		if _, err := NewEtcd(cli, o); err == nil || !strings.HasPrefix(err.Error(), "discovery: ") {
			t.Errorf("NewEtcd(%+v) = %v; want a discovery error", o, err)
		}
	}
	e, err := NewEtcd(cli, EtcdOptions{Prefix: "/p", TTL: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Prefix() != "/p/" || e.leaseTTL != 2 {
		t.Fatalf("prefix %q, lease TTL %ds; want /p/ and 2s (rounded up)", e.Prefix(), e.leaseTTL)
	}
}
