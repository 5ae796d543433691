package shedding

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/tremolo-dev/tremolo/platform/apierror"
)

const unaryCall = "/grpc.testing.TestService/UnaryCall"

// blocking is a TestService whose calls wait for release, announcing on
// entered that they are in the handler.
type blocking struct {
	testgrpc.UnimplementedTestServiceServer
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &testgrpc.SimpleResponse{}, nil
}

func (b *blocking) StreamingOutputCall(_ *testgrpc.StreamingOutputCallRequest, ss testgrpc.TestService_StreamingOutputCallServer) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ss.Context().Done():
		// A failed test stops the server, which must not wait on us.
		return ss.Context().Err()
	}
	return ss.Send(&testgrpc.StreamingOutputCallResponse{})
}

type fixture struct {
	s       *Shedder
	srv     *blocking
	client  testgrpc.TestServiceClient
	health  healthpb.HealthClient
	metrics *Metrics
	reg     *prometheus.Registry
	// errs receives the outcome of every call made by start. It is one
	// channel for all of them because a release wakes whichever blocked
	// handler takes it first, not the call of a given start.
	errs chan error
}

func setup(t *testing.T, limit int) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	sh := New(limit, WithMetrics(metrics))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &blocking{entered: make(chan struct{}, 100), release: make(chan struct{})}
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(sh.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(sh.StreamServerInterceptor()))
	testgrpc.RegisterTestServiceServer(s, srv)
	healthpb.RegisterHealthServer(s, health.NewServer())
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return &fixture{s: sh, srv: srv, client: testgrpc.NewTestServiceClient(cc), health: healthpb.NewHealthClient(cc), metrics: metrics, reg: reg, errs: make(chan error, 100)}
}

// start makes n calls that block in the handler, returning once all of
// them are in it. Their outcomes go to f.errs.
func (f *fixture) start(t *testing.T, n int) {
	t.Helper()
	for range n {
		go func() {
			_, err := f.client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
			f.errs <- err
		}()
	}
	for range n {
		select {
		case <-f.srv.entered:
		case err := <-f.errs:
			t.Fatalf("a call that should block returned: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("calls did not reach the handler")
		}
	}
}

// finish releases n blocked calls, whichever they are, and checks that
// they succeeded.
func (f *fixture) finish(t *testing.T, n int) {
	t.Helper()
	for range n {
		f.srv.release <- struct{}{}
	}
	for range n {
		if err := <-f.errs; err != nil {
			t.Fatalf("admitted call failed: %v", err)
		}
	}
}

func (f *fixture) quick(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := f.client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
	return err
}

func TestShedsBeyondLimit(t *testing.T) {
	const limit = 3
	f := setup(t, limit)
	f.start(t, limit)
	if got := f.s.InFlight(); got != limit {
		t.Fatalf("in flight = %d; want %d", got, limit)
	}
	const gauge = `
# HELP tremolo_inflight_requests Requests the server is handling now, health checks left out.
# TYPE tremolo_inflight_requests gauge
tremolo_inflight_requests 3
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(gauge), "tremolo_inflight_requests"); err != nil {
		t.Fatal(err)
	}

	// The limit+1th call is refused at once, encoded like platform errors.
	err := f.quick(t)
	var e *apierror.Error
	if fe, ok := apierror.FromError(err); ok {
		e = fe
	}
	if status.Code(err) != codes.ResourceExhausted || e == nil || e.Spec() != apierror.Platform(codes.ResourceExhausted) ||
		!strings.Contains(e.Message(), "limit of 3 requests in flight") {
		t.Fatalf("call beyond the limit: %v; want the platform's RESOURCE_EXHAUSTED naming the limit", err)
	}
	if got := testutil.ToFloat64(f.metrics.shed.WithLabelValues(unaryCall)); got != 1 {
		t.Fatalf("shed counter = %v; want 1", got)
	}

	// Health checks are never refused.
	if _, err := f.health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health check while full: %v", err)
	}

	// One call ends: exactly one more fits.
	f.finish(t, 1)
	f.start(t, 1)
	if err := f.quick(t); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("call beyond the limit after one slot was reused: %v", err)
	}
	f.finish(t, limit)
	if got := f.s.InFlight(); got != 0 || f.metrics.inflight() != 0 {
		t.Fatalf("in flight after all ended = %d (gauge %v); want 0", got, f.metrics.inflight())
	}
	// Calls pass again.
	f.start(t, limit)
	f.finish(t, limit)
	if got := testutil.ToFloat64(f.metrics.shed.WithLabelValues(unaryCall)); got != 2 {
		t.Fatalf("shed counter = %v; want 2", got)
	}
}

func TestSetLimitAtRunTime(t *testing.T) {
	f := setup(t, 2)
	f.start(t, 2)
	if err := f.quick(t); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third call with limit 2: %v", err)
	}
	if err := f.s.SetLimit(0); err != nil {
		t.Fatal(err)
	}
	f.start(t, 3) // no limit
	if err := f.s.SetLimit(4); err != nil {
		t.Fatal(err)
	}
	if err := f.quick(t); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("call with 5 in flight and limit 4: %v", err)
	}
	if err := f.s.SetLimit(-1); err == nil || !strings.Contains(err.Error(), "negative") || f.s.Limit() != 4 {
		t.Fatalf("SetLimit(-1) = %v, limit now %d; want an error and 4 kept", err, f.s.Limit())
	}
	f.finish(t, 5)
	if New(-5).Limit() != 0 {
		t.Fatal("New(-5) did not mean no limit")
	}
}

func TestStreamsHoldSlots(t *testing.T) {
	f := setup(t, 1)
	first, err := f.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	<-f.srv.entered
	second, err := f.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second stream with limit 1: %v", err)
	}
	f.srv.release <- struct{}{}
	if _, err := first.Recv(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Recv(); err == nil {
		t.Fatal("stream did not end")
	}
	// Streaming health checks (Watch) are never refused either.
	f.start(t, 1)
	w, err := f.health.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatalf("health watch while full: %v", err)
	}
	f.finish(t, 1)
}

func TestConcurrentCallsNeverExceedLimit(t *testing.T) {
	const limit = 4
	s := New(limit)
	var mu sync.Mutex
	running, peak := 0, 0
	handler := func(context.Context, any) (any, error) {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(100 * time.Microsecond)
		mu.Lock()
		running--
		mu.Unlock()
		return nil, nil
	}
	icpt := s.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: unaryCall}
	var wg sync.WaitGroup
	var shed, passed int64
	var cmu sync.Mutex
	for range 16 {
		wg.Go(func() {
			for range 50 {
				_, err := icpt(context.Background(), nil, info, handler)
				cmu.Lock()
				if err != nil {
					shed++
				} else {
					passed++
				}
				cmu.Unlock()
			}
		})
	}
	wg.Wait()
	if peak > limit || s.InFlight() != 0 || shed+passed != 800 || passed < limit {
		t.Fatalf("peak %d, in flight %d, shed %d, passed %d; want peak <= %d and nothing left", peak, s.InFlight(), shed, passed, limit)
	}
}

func TestNewMetricsErrors(t *testing.T) {
	if _, err := NewMetrics(nil); err == nil {
		t.Fatal("NewMetrics(nil) succeeded")
	}
	reg := prometheus.NewRegistry()
	_, _ = NewMetrics(reg)
	if _, err := NewMetrics(reg); err == nil || !strings.Contains(err.Error(), "shedding") {
		t.Fatalf("registering twice: %v", err)
	}
}

// BenchmarkUnaryServerInterceptor measures what the interceptor adds to a
// call that is admitted: "none" is the handler alone.
func BenchmarkUnaryServerInterceptor(b *testing.B) {
	handler := func(context.Context, any) (any, error) { return nil, nil }
	info := &grpc.UnaryServerInfo{FullMethod: unaryCall}
	metrics, _ := NewMetrics(prometheus.NewRegistry())
	cases := []struct {
		name string
		icpt grpc.UnaryServerInterceptor
	}{
		{"none", func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			return h(ctx, req)
		}},
		{"no-limit", New(0).UnaryServerInterceptor()},
		{"limit", New(1 << 20).UnaryServerInterceptor()},
		{"limit+metrics", New(1<<20, WithMetrics(metrics)).UnaryServerInterceptor()},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					_, _ = c.icpt(ctx, nil, info, handler)
				}
			})
		})
	}
}

// Exempt calls (in-process ones, in the platform) pass a full limit and
// take no slot.
func TestExemptCallsPass(t *testing.T) {
	s := New(1, WithExempt(func(ctx context.Context) bool { return ctx.Value(exemptKey{}) != nil }))
	icpt := s.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/svc.S/M"}
	inner := func(ctx context.Context, _ any) (any, error) {
		// The outer call holds the only slot; the inner one is exempt.
		return icpt(context.WithValue(ctx, exemptKey{}, true), nil, info, func(context.Context, any) (any, error) {
			if n := s.InFlight(); n != 1 {
				t.Errorf("in flight during an exempt call = %d, want 1 (the outer call only)", n)
			}
			return "ok", nil
		})
	}
	got, err := icpt(context.Background(), nil, info, inner)
	if err != nil || got != "ok" {
		t.Fatalf("outer call with an exempt inner call = %v, %v", got, err)
	}
}

type exemptKey struct{}
