package metrics

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tremolo-dev/tremolo/platform/rpc"
)

func newMethods(t *testing.T, reg prometheus.Registerer) (*ServerMethod, *ServerMethod) {
	t.Helper()
	get, err := NewServerMethod(reg, rpc.Method{FullMethod: "/s.v1.S/Get", Type: rpc.Unary, Buckets: []float64{0.01, 0.1}},
		[]ErrorLabel{{Code: codes.NotFound, Reason: "THING_NOT_FOUND"}})
	if err != nil {
		t.Fatal(err)
	}
	put, err := NewServerMethod(reg, rpc.Method{FullMethod: "/s.v1.S/Put", Type: rpc.Unary}, nil)
	if err != nil {
		t.Fatalf("a second method with other buckets under the same names: %v", err)
	}
	return get, put
}

func TestSeriesExistBeforeFirstCall(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	newMethods(t, reg)
	want := map[string]int{
		"grpc_server_started_total": 2,
		// 17 codes with an empty reason per method, plus one declared error on Get.
		"grpc_server_handled_total":              2*17 + 1,
		"grpc_server_handling_seconds":           2 * 2, // success and error per method
		"grpc_server_msg_received_total":         2,
		"grpc_server_msg_sent_total":             2,
		"tremolo_grpc_server_in_flight_requests": 2,
	}
	for name, n := range want {
		if got := testutil.CollectAndCount(reg, name); got != n {
			t.Errorf("%s: %d series before any call; want %d", name, got, n)
		}
	}
	// The pedantic registry checks consistency of same-named collectors.
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather: %v", err)
	}
}

func TestInterceptorRecords(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	get, put := newMethods(t, reg)
	lookup := func(m string) *ServerMethod {
		switch m {
		case "/s.v1.S/Get":
			return get
		case "/s.v1.S/Put":
			return put
		}
		return nil
	}
	icpt := UnaryServerInterceptor(lookup)
	call := func(method string, err error) {
		_, _ = icpt(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: method}, func(context.Context, any) (any, error) { return nil, err })
	}
	call("/s.v1.S/Get", nil)
	call("/s.v1.S/Get", nil)
	call("/s.v1.S/Get", status.Error(codes.Unavailable, "down"))
	call("/other.v1.O/Call", nil) // not ours: passes through unrecorded

	if v := testutil.ToFloat64(get.started); v != 3 {
		t.Fatalf("started = %v; want 3", v)
	}
	if v := testutil.ToFloat64(get.handledOK); v != 2 {
		t.Fatalf("handled OK = %v; want 2", v)
	}
	if v := testutil.ToFloat64(get.handled.WithLabelValues("Unavailable", "")); v != 1 {
		t.Fatalf("handled Unavailable = %v; want 1", v)
	}
	if v := testutil.ToFloat64(get.inFlight); v != 0 {
		t.Fatalf("in flight after calls = %v; want 0", v)
	}
	if v := testutil.ToFloat64(put.started); v != 0 {
		t.Fatalf("Put started = %v; want 0", v)
	}
	out, err := testutil.CollectAndFormat(reg, expfmt.TypeTextPlain, "grpc_server_handling_seconds")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`grpc_server_handling_seconds_count{grpc_method="Get",grpc_service="s.v1.S",grpc_type="unary",outcome="success"} 2`,
		`grpc_server_handling_seconds_count{grpc_method="Get",grpc_service="s.v1.S",grpc_type="unary",outcome="error"} 1`,
		`grpc_server_handling_seconds_bucket{grpc_method="Get",grpc_service="s.v1.S",grpc_type="unary",outcome="success",le="0.01"}`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("exposition lacks %s\n%s", want, out)
		}
	}
}

func TestRegisteringAMethodTwiceFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := rpc.Method{FullMethod: "/s.v1.S/Get", Type: rpc.Unary}
	if _, err := NewServerMethod(reg, m, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewServerMethod(reg, m, nil); err == nil || !strings.Contains(err.Error(), "/s.v1.S/Get") {
		t.Fatalf("second registration: err = %v", err)
	}
}

func BenchmarkUnaryInterceptor(b *testing.B) {
	reg := prometheus.NewRegistry()
	m, _ := NewServerMethod(reg, rpc.Method{FullMethod: "/s.v1.S/Get", Type: rpc.Unary}, nil)
	icpt := UnaryServerInterceptor(func(string) *ServerMethod { return m })
	info := &grpc.UnaryServerInfo{FullMethod: "/s.v1.S/Get"}
	h := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = icpt(ctx, nil, info, h)
	}
}
