package balancer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/resolver"

	"github.com/tremolo-dev/tremolo/platform/discovery"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		js      string
		want    Config
		wantErr string
	}{
		{``, Config{VirtualNodes: DefaultVirtualNodes}, ""},
		{`{}`, Config{VirtualNodes: DefaultVirtualNodes}, ""},
		{`{"hashKey": "x-tremolo-user-id", "virtualNodes": 100}`, Config{HashKey: "x-tremolo-user-id", VirtualNodes: 100}, ""},
		{`{"hashKey": "X-Tremolo-User-Id"}`, Config{HashKey: "x-tremolo-user-id", VirtualNodes: DefaultVirtualNodes}, ""},
		{`{"virtualNodes": 1000, "future": true}`, Config{VirtualNodes: 1000}, ""},
		{`{"virtualNodes": 0}`, Config{VirtualNodes: DefaultVirtualNodes}, ""},
		{`{"virtualNodes": -1}`, Config{}, "virtualNodes -1: want 1 to 1000"},
		{`{"virtualNodes": 1001}`, Config{}, "virtualNodes 1001"},
		{`{"virtualNodes": "100"}`, Config{}, "cannot unmarshal string"},
		{`{"hashKey": "user id"}`, Config{}, `hashKey "user id": a metadata key has only`},
		{`{"hashKey": "grpc-timeout"}`, Config{}, "reserved by gRPC"},
		{`{"hashKey": "user-bin"}`, Config{}, "binary"},
		{`[1]`, Config{}, "cannot unmarshal array"},
		{`{`, Config{}, "unexpected end"},
	} {
		got, err := ParseConfig(json.RawMessage(tc.js))
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseConfig(%s) error = %v, want one containing %q", tc.js, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseConfig(%s): %v", tc.js, err)
		case tc.wantErr == "" && got != tc.want:
			t.Errorf("ParseConfig(%s) = %+v, want %+v", tc.js, got, tc.want)
		}
	}
}

func TestServiceConfig(t *testing.T) {
	if got, want := ServiceConfig("x-tremolo-user-id"), `{"loadBalancingConfig":[{"tremolo":{"hashKey":"x-tremolo-user-id"}}]}`; got != want {
		t.Errorf("ServiceConfig = %s, want %s", got, want)
	}
	if got, want := ServiceConfig(""), `{"loadBalancingConfig":[{"tremolo":{}}]}`; got != want {
		t.Errorf("ServiceConfig(\"\") = %s, want %s", got, want)
	}
	// What ServiceConfig writes, the registered policy reads.
	var sc struct {
		LoadBalancingConfig []map[string]json.RawMessage `json:"loadBalancingConfig"`
	}
	if err := json.Unmarshal([]byte(ServiceConfig(`a"b`)), &sc); err != nil {
		t.Fatalf("ServiceConfig with a quote is not JSON: %v", err)
	}
	parser := balancer.Get(Name).(balancer.ConfigParser)
	if _, err := parser.ParseConfig(sc.LoadBalancingConfig[0][Name]); err == nil {
		t.Errorf("the policy accepts hashKey %q", `a"b`)
	}
	cfg, err := parser.ParseConfig(json.RawMessage(`{"hashKey":"k"}`))
	if err != nil || cfg.(*lbConfig).HashKey != "k" {
		t.Errorf("registered parser: %v, %v", cfg, err)
	}
}

func TestRegistered(t *testing.T) {
	if b := balancer.Get(Name); b == nil || b.Name() != Name {
		t.Fatalf("balancer.Get(%q) = %v", Name, b)
	}
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Metrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := Metrics(reg); err != nil {
		t.Errorf("registering twice: %v", err)
	}
	if err := Metrics(nil); err == nil {
		t.Error("Metrics(nil) = nil error")
	}
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tremolo_balancer_picks_total", Help: "x"}, []string{"other"}))
	if err := Metrics(clash); err == nil {
		t.Error("Metrics over a clashing series = nil error")
	}
}

func TestFlattenEndpoints(t *testing.T) {
	a := discovery.WithInstance(resolver.Address{Addr: "h:1"}, discovery.Instance{Cell: "1"})
	ep := resolver.Endpoint{
		Addresses:  []resolver.Address{{Addr: "h:1"}, {Addr: "h:2"}},
		Attributes: a.BalancerAttributes,
	}
	addrs := flatten([]resolver.Endpoint{ep})
	if len(addrs) != 2 {
		t.Fatalf("flatten = %v", addrs)
	}
	for _, ad := range addrs {
		if inst, ok := discovery.InstanceOf(ad); !ok || inst.Cell != "1" {
			t.Errorf("%s lost its instance: %v, %v", ad.Addr, inst, ok)
		}
	}
}
