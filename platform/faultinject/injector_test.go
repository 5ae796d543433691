package faultinject

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
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

const testService = "grpc.testing.TestService"

// counting is a TestService that counts the calls its handlers see.
type counting struct {
	testgrpc.UnimplementedTestServiceServer
	hits atomic.Int64
}

func (c *counting) UnaryCall(context.Context, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	c.hits.Add(1)
	return &testgrpc.SimpleResponse{}, nil
}

func (c *counting) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	c.hits.Add(1)
	return &testgrpc.Empty{}, nil
}

func (c *counting) StreamingOutputCall(_ *testgrpc.StreamingOutputCallRequest, ss testgrpc.TestService_StreamingOutputCallServer) error {
	c.hits.Add(1)
	return ss.Send(&testgrpc.StreamingOutputCallResponse{})
}

type fixture struct {
	in      *Injector
	srv     *counting
	client  testgrpc.TestServiceClient
	health  healthpb.HealthClient
	metrics *Metrics
}

// setup serves a TestService, known as "test", behind an Injector.
func setup(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	in := New(append([]Option{WithMetrics(metrics), WithServiceNames(map[string]string{testService: "test"})}, opts...)...)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &counting{}
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(in.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(in.StreamServerInterceptor()))
	testgrpc.RegisterTestServiceServer(s, srv)
	healthpb.RegisterHealthServer(s, health.NewServer())
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return &fixture{in: in, srv: srv, client: testgrpc.NewTestServiceClient(cc), health: healthpb.NewHealthClient(cc), metrics: metrics}
}

func (f *fixture) set(t *testing.T, rules ...Rule) {
	t.Helper()
	if err := f.in.Set(rules); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) unary(ctx context.Context) error {
	_, err := f.client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
	return err
}

func (f *fixture) injected(method, kind string) float64 {
	return testutil.ToFloat64(f.metrics.injected.WithLabelValues("test", method, kind))
}

func TestProbabilityOneAbortsEveryCall(t *testing.T) {
	f := setup(t)
	f.set(t, Rule{Service: "test", Method: "UnaryCall", Probability: 1, Abort: codes.Unavailable, Message: "chaos drill"})
	for range 50 {
		err := f.unary(context.Background())
		e, ok := apierror.FromError(err)
		if status.Code(err) != codes.Unavailable || !ok || e.Spec().Domain != apierror.PlatformDomain || status.Convert(err).Message() != "chaos drill" {
			t.Fatalf("err = %v; want the platform's UNAVAILABLE with the rule's message", err)
		}
	}
	if f.srv.hits.Load() != 0 || f.injected("UnaryCall", KindAbort) != 50 {
		t.Fatalf("handler hits %d, aborts counted %v; want 0, 50", f.srv.hits.Load(), f.injected("UnaryCall", KindAbort))
	}
	// Other methods are untouched.
	if _, err := f.client.EmptyCall(context.Background(), &testgrpc.Empty{}); err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}
}

func TestProbabilityHalfWithSeededSource(t *testing.T) {
	const calls = 2000
	f := setup(t, WithRand(rand.New(rand.NewPCG(7, 11))))
	f.set(t, Rule{Service: testService, Probability: 0.5, Abort: codes.Internal})
	// The same seed predicts the draws: one per call for the one rule.
	replay := rand.New(rand.NewPCG(7, 11))
	want := 0
	for range calls {
		if replay.Float64() < 0.5 {
			want++
		}
	}
	got := 0
	for range calls {
		if err := f.unary(context.Background()); status.Code(err) == codes.Internal {
			got++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if got != want || want < 900 || want > 1100 {
		t.Fatalf("%d of %d calls aborted; want exactly %d (about half)", got, calls, want)
	}
	if f.srv.hits.Load() != int64(calls-want) {
		t.Fatalf("handler saw %d calls; want %d", f.srv.hits.Load(), calls-want)
	}
}

func TestDelay(t *testing.T) {
	f := setup(t)
	f.set(t, Rule{Method: "UnaryCall", Probability: 1, Delay: 60 * time.Millisecond})
	start := time.Now()
	if err := f.unary(context.Background()); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 60*time.Millisecond {
		t.Fatalf("delayed call took %v; want at least 60ms", elapsed)
	}
	if f.injected("UnaryCall", KindDelay) != 1 || f.srv.hits.Load() != 1 {
		t.Fatal("the delay was not counted, or the call not handled after it")
	}

	// Delays of several firing rules add up, and the first abort wins.
	f.set(t,
		Rule{Service: "test", Probability: 1, Delay: 30 * time.Millisecond},
		Rule{Method: "/grpc.testing.TestService/UnaryCall", Probability: 1, Delay: 30 * time.Millisecond, Abort: codes.DataLoss},
		Rule{Probability: 1, Abort: codes.Aborted})
	start = time.Now()
	if err := f.unary(context.Background()); status.Code(err) != codes.DataLoss || time.Since(start) < 60*time.Millisecond {
		t.Fatalf("err = %v after %v; want DATA_LOSS after 60ms", err, time.Since(start))
	}
}

func TestDelayRespectsContext(t *testing.T) {
	f := setup(t)
	f.set(t, Rule{Probability: 1, Delay: 10 * time.Second, Abort: codes.Unavailable})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := f.unary(ctx); status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v; want DEADLINE_EXCEEDED at the caller's deadline", err, time.Since(start))
	}
	// The server side of the same: the interceptor returns the context's
	// end as the platform's error.
	sctx, scancel := context.WithCancel(context.Background())
	scancel()
	_, err := f.in.UnaryServerInterceptor()(sctx, nil, &grpc.UnaryServerInfo{FullMethod: "/" + testService + "/UnaryCall"},
		func(context.Context, any) (any, error) { return nil, errors.New("handler ran") })
	if e, ok := apierror.FromError(err); !ok || e.Spec() != apierror.Platform(codes.Canceled) {
		t.Fatalf("cancelled during the delay: %v; want the platform's CANCELLED", err)
	}
}

func TestRulesReplacedLive(t *testing.T) {
	f := setup(t)
	if err := f.unary(context.Background()); err != nil {
		t.Fatalf("no rules: %v", err)
	}
	f.set(t, Rule{Probability: 1, Abort: codes.ResourceExhausted})
	if err := f.unary(context.Background()); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("after Set: %v", err)
	}
	err := f.in.Set([]Rule{{Probability: 1, Abort: codes.Internal}, {Probability: 2, Abort: codes.Internal}})
	if err == nil || !strings.Contains(err.Error(), "faults[1].probability") {
		t.Fatalf("Set with a bad rule: %v; want an error naming faults[1].probability", err)
	}
	if err := f.unary(context.Background()); status.Code(err) != codes.ResourceExhausted || len(f.in.Rules()) != 1 {
		t.Fatalf("a refused Set changed the rules: %v, %v", err, f.in.Rules())
	}
	f.set(t)
	if err := f.unary(context.Background()); err != nil || len(f.in.Rules()) != 0 {
		t.Fatalf("after Set(nil): %v", err)
	}
}

func TestMatching(t *testing.T) {
	f := setup(t)
	cases := []struct {
		rule  Rule
		unary bool // whether UnaryCall is hit
		empty bool // whether EmptyCall is hit
	}{
		{Rule{Service: "test"}, true, true},
		{Rule{Service: testService, Method: "*"}, true, true},
		{Rule{Service: "video"}, false, false},
		{Rule{Method: "EmptyCall"}, false, true},
		{Rule{Method: "/" + testService + "/UnaryCall"}, true, false},
		{Rule{Service: "test", Method: "/other.Service/UnaryCall"}, false, false},
	}
	for _, c := range cases {
		c.rule.Probability, c.rule.Abort = 1, codes.Aborted
		f.set(t, c.rule)
		_, errU := f.client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		_, errE := f.client.EmptyCall(context.Background(), &testgrpc.Empty{})
		if (errU != nil) != c.unary || (errE != nil) != c.empty {
			t.Errorf("rule %+v: UnaryCall %v, EmptyCall %v", c.rule, errU, errE)
		}
	}
	// "Any service" leaves health checks alone; naming the service does not.
	f.set(t, Rule{Probability: 1, Abort: codes.Unavailable})
	if _, err := f.health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health check under an any-service rule: %v", err)
	}
	f.set(t, Rule{Service: "grpc.health.v1.Health", Probability: 1, Abort: codes.Unavailable})
	if _, err := f.health.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("health check under a rule naming it: %v", err)
	}
}

func TestStream(t *testing.T) {
	f := setup(t)
	f.set(t, Rule{Method: "StreamingOutputCall", Probability: 1, Abort: codes.Unavailable})
	s, err := f.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); status.Code(err) != codes.Unavailable || f.srv.hits.Load() != 0 {
		t.Fatalf("stream: %v with %d handler calls; want UNAVAILABLE before the handler", err, f.srv.hits.Load())
	}
	if f.injected("StreamingOutputCall", KindAbort) != 1 {
		t.Fatal("the stream's abort was not counted")
	}
}

func TestSetValidates(t *testing.T) {
	in := New()
	bad := map[string]Rule{
		"faults[0].probability": {Abort: codes.Internal},
		"faults[0].delay":       {Probability: 1, Delay: -time.Second},
		"faults[0].abort":       {Probability: 1, Abort: codes.Code(99)},
		"does nothing":          {Probability: 1},
		"faults[0].message":     {Probability: 1, Delay: time.Second, Message: "x"},
		"faults[0].service":     {Probability: 1, Abort: codes.Internal, Service: "a/b"},
	}
	for want, r := range bad {
		if err := in.Set([]Rule{r}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Set(%+v) = %v; want an error containing %q", r, err, want)
		}
	}
	if _, err := NewMetrics(nil); err == nil {
		t.Error("NewMetrics(nil) succeeded")
	}
}

// BenchmarkNoRules is what the interceptor costs a server with no
// experiment running.
func BenchmarkNoRules(b *testing.B) {
	icpt := New().UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/" + testService + "/UnaryCall"}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = icpt(ctx, nil, info, handler)
	}
}
