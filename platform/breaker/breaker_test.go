package breaker

import (
	"context"
	"errors"
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
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

const unaryCall = "/grpc.testing.TestService/UnaryCall"

// flaky is a TestService that fails on demand and counts the calls that
// reach it.
type flaky struct {
	testgrpc.UnimplementedTestServiceServer
	hits  atomic.Int64
	code  atomic.Int32 // the code to fail with; OK succeeds
	delay atomic.Int64 // how long to take, in nanoseconds
}

func (f *flaky) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	f.hits.Add(1)
	if d := time.Duration(f.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if c := codes.Code(f.code.Load()); c != codes.OK {
		return nil, status.Error(c, "failing on demand")
	}
	return &testgrpc.SimpleResponse{Username: "alice"}, nil
}

func (f *flaky) fail(c codes.Code) { f.code.Store(int32(c)) }

// testSettings trip after 4 calls at 50% failures and probe after 100ms
// with 2 calls.
var testSettings = Settings{FailureRatio: 0.5, MinRequests: 4, Window: 10 * time.Second, SleepWindow: 100 * time.Millisecond, HalfOpenProbes: 2}

type fixture struct {
	srv     *flaky
	client  testgrpc.TestServiceClient
	b       *Breakers
	metrics *Metrics
}

// setup serves a flaky TestService on loopback and dials it through the
// breakers of callee "video", followed by the platform's error decoding.
func setup(t *testing.T, m rpc.Method) *fixture {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &flaky{}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, srv)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)

	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	m.FullMethod = unaryCall
	table, err := rpc.NewTable([]rpc.Method{m})
	if err != nil {
		t.Fatal(err)
	}
	b := New("video", table, WithMetrics(metrics))
	if err := b.SetSettings(testSettings); err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(b.UnaryClientInterceptor(), apierror.UnaryClientInterceptor()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return &fixture{srv: srv, client: testgrpc.NewTestServiceClient(cc), b: b, metrics: metrics}
}

func (f *fixture) call(t *testing.T) (*testgrpc.SimpleResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return f.client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
}

func (f *fixture) state(t *testing.T) State {
	t.Helper()
	s, ok := f.b.State(unaryCall)
	if !ok {
		t.Fatalf("no breaker for %s", unaryCall)
	}
	return s
}

func (f *fixture) gauge() float64 {
	return testutil.ToFloat64(f.metrics.state.WithLabelValues("video", "UnaryCall"))
}

func (f *fixture) counter(v *prometheus.CounterVec, labels ...string) float64 {
	return testutil.ToFloat64(v.WithLabelValues(append([]string{"video", "UnaryCall"}, labels...)...))
}

// open fails MinRequests calls so that the breaker opens.
func (f *fixture) open(t *testing.T) {
	t.Helper()
	f.srv.fail(codes.Unavailable)
	for range testSettings.MinRequests {
		if _, err := f.call(t); status.Code(err) != codes.Unavailable {
			t.Fatalf("failing call: err = %v; want UNAVAILABLE from the server", err)
		}
	}
	if s := f.state(t); s != Open {
		t.Fatalf("after %d failures the breaker is %v; want open", testSettings.MinRequests, s)
	}
}

func TestOpensDropsAndRecovers(t *testing.T) {
	f := setup(t, rpc.Method{Timeout: time.Second, Idempotent: true})
	if f.gauge() != float64(Closed) {
		t.Fatalf("state gauge before any call = %v; want 0", f.gauge())
	}
	f.open(t)
	if got := f.srv.hits.Load(); got != 4 {
		t.Fatalf("server hits = %d; want 4", got)
	}

	for range 10 {
		_, err := f.call(t)
		var e *apierror.Error
		if !errors.As(err, &e) || e.Spec() != apierror.Platform(codes.Unavailable) {
			t.Fatalf("dropped call: err = %T %v; want the platform's UNAVAILABLE", err, err)
		}
		if msg := e.Message(); !strings.HasPrefix(msg, "circuit breaker for video/UnaryCall is open; retry after ") || !strings.HasSuffix(msg, "ms") {
			t.Fatalf("dropped call's message = %q", msg)
		}
		// It encodes like every platform error: a status with ErrorInfo.
		if st := status.Convert(err); st.Code() != codes.Unavailable || len(st.Details()) == 0 {
			t.Fatalf("dropped call's status = %v with %d details", st.Code(), len(st.Details()))
		}
	}
	if got := f.srv.hits.Load(); got != 4 {
		t.Fatalf("server hits = %d after 10 calls on an open breaker; want still 4", got)
	}
	if f.gauge() != float64(Open) || f.counter(f.metrics.drops) != 10 || f.counter(f.metrics.transitions, "open") != 1 {
		t.Fatalf("state gauge %v, drops %v, transitions to open %v; want 2, 10, 1",
			f.gauge(), f.counter(f.metrics.drops), f.counter(f.metrics.transitions, "open"))
	}

	// The callee recovers; after the sleep window, probes go through and
	// close the breaker.
	f.srv.fail(codes.OK)
	time.Sleep(testSettings.SleepWindow + 20*time.Millisecond)
	if resp, err := f.call(t); err != nil || resp.GetUsername() != "alice" {
		t.Fatalf("first probe: %v, %v", resp, err)
	}
	if s := f.state(t); s != HalfOpen || f.gauge() != float64(HalfOpen) {
		t.Fatalf("after one good probe: state %v, gauge %v; want half-open", s, f.gauge())
	}
	if _, err := f.call(t); err != nil {
		t.Fatalf("second probe: %v", err)
	}
	if s := f.state(t); s != Closed || f.gauge() != float64(Closed) {
		t.Fatalf("after %d good probes: state %v, gauge %v; want closed", testSettings.HalfOpenProbes, s, f.gauge())
	}
	if got := f.srv.hits.Load(); got != 6 {
		t.Fatalf("server hits = %d; want 6", got)
	}
	if f.counter(f.metrics.transitions, "half-open") != 1 || f.counter(f.metrics.transitions, "closed") != 1 {
		t.Fatal("transitions to half-open and closed were not counted once each")
	}
}

func TestFailedProbeReopens(t *testing.T) {
	f := setup(t, rpc.Method{Timeout: time.Second})
	f.open(t)
	time.Sleep(testSettings.SleepWindow + 20*time.Millisecond)
	if _, err := f.call(t); status.Code(err) != codes.Unavailable || f.srv.hits.Load() != 5 {
		t.Fatalf("probe: err = %v, hits %d; want the server's UNAVAILABLE on hit 5", err, f.srv.hits.Load())
	}
	if s := f.state(t); s != Open {
		t.Fatalf("after a failed probe the breaker is %v; want open", s)
	}
	if _, err := f.call(t); !strings.Contains(err.Error(), "is open") || f.srv.hits.Load() != 5 {
		t.Fatalf("call after a failed probe: %v, hits %d; want a drop", err, f.srv.hits.Load())
	}
	if got := f.counter(f.metrics.transitions, "open"); got != 2 {
		t.Fatalf("transitions to open = %v; want 2", got)
	}
}

func TestBusinessErrorsNeverOpen(t *testing.T) {
	f := setup(t, rpc.Method{Timeout: time.Second})
	business := []codes.Code{codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.Aborted, codes.OutOfRange, codes.Unimplemented}
	for _, c := range business {
		f.srv.fail(c)
		for range 5 {
			if _, err := f.call(t); status.Code(err) != c {
				t.Fatalf("err = %v; want %v from the server", err, c)
			}
		}
	}
	if s := f.state(t); s != Closed {
		t.Fatalf("after %d business errors the breaker is %v; want closed", 5*len(business), s)
	}
	if got, want := f.srv.hits.Load(), int64(5*len(business)); got != want {
		t.Fatalf("server hits = %d; want %d", got, want)
	}
}

func TestDegradableAnswersEmpty(t *testing.T) {
	f := setup(t, rpc.Method{Timeout: time.Second, Degradable: true})
	f.srv.fail(codes.Unavailable)
	for i := range 10 {
		resp, err := f.call(t)
		if err != nil || resp == nil || resp.GetUsername() != "" {
			t.Fatalf("call %d of a degradable method: %v, %v; want an empty response and no error", i, resp, err)
		}
	}
	// 4 failures reached the server, then the breaker opened.
	if got := f.srv.hits.Load(); got != 4 {
		t.Fatalf("server hits = %d; want 4", got)
	}
	if s := f.state(t); s != Open {
		t.Fatalf("breaker is %v; want open", s)
	}
	if f.counter(f.metrics.degraded) != 10 || f.counter(f.metrics.drops) != 6 {
		t.Fatalf("degraded %v, drops %v; want 10, 6", f.counter(f.metrics.degraded), f.counter(f.metrics.drops))
	}

	// Business errors are answers: they are returned, not degraded.
	g := setup(t, rpc.Method{Timeout: time.Second, Degradable: true})
	g.srv.fail(codes.NotFound)
	if _, err := g.call(t); status.Code(err) != codes.NotFound {
		t.Fatalf("business error of a degradable method: %v; want NOT_FOUND", err)
	}
}

func TestDeadlines(t *testing.T) {
	t.Run("short caller budget is excluded", func(t *testing.T) {
		f := setup(t, rpc.Method{Timeout: time.Second})
		f.srv.delay.Store(int64(time.Second))
		for range 8 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			_, err := f.client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
			cancel()
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("err = %v; want DEADLINE_EXCEEDED", err)
			}
		}
		if s := f.state(t); s != Closed {
			t.Fatalf("calls that started with 20ms of a 1s method are %v; want closed", s)
		}
	})
	t.Run("timeout with a fair budget is a failure", func(t *testing.T) {
		f := setup(t, rpc.Method{Timeout: 40 * time.Millisecond})
		f.srv.delay.Store(int64(time.Second))
		for range testSettings.MinRequests {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
			_, _ = f.client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
			cancel()
		}
		if s := f.state(t); s != Open {
			t.Fatalf("calls that timed out with the method's whole timeout left the breaker %v; want open", s)
		}
	})
	t.Run("callee's own timeout is a failure", func(t *testing.T) {
		f := setup(t, rpc.Method{Timeout: time.Second})
		f.srv.fail(codes.DeadlineExceeded) // the callee's own callee timed out
		for range testSettings.MinRequests {
			_, _ = f.call(t)
		}
		if s := f.state(t); s != Open {
			t.Fatalf("DEADLINE_EXCEEDED from a callee with time left left the breaker %v; want open", s)
		}
	})
	t.Run("caller cancellation is excluded", func(t *testing.T) {
		f := setup(t, rpc.Method{Timeout: time.Second})
		f.srv.delay.Store(int64(time.Second))
		for range 8 {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(5*time.Millisecond, cancel)
			if _, err := f.client.UnaryCall(ctx, &testgrpc.SimpleRequest{}); status.Code(err) != codes.Canceled {
				t.Fatalf("err = %v; want CANCELED", err)
			}
		}
		if s := f.state(t); s != Closed {
			t.Fatalf("cancelled calls left the breaker %v; want closed", s)
		}
	})
}

func TestSetSettings(t *testing.T) {
	f := setup(t, rpc.Method{Timeout: time.Second})
	bad := map[string]Settings{
		"failure ratio":     {FailureRatio: 1.5, MinRequests: 1, Window: time.Second, SleepWindow: time.Second, HalfOpenProbes: 1},
		"minimum requests":  {FailureRatio: 0.5, MinRequests: 0, Window: time.Second, SleepWindow: time.Second, HalfOpenProbes: 1},
		"sleep window":      {FailureRatio: 0.5, MinRequests: 1, Window: time.Second, SleepWindow: -time.Second, HalfOpenProbes: 1},
		"window":            {FailureRatio: 0.5, MinRequests: 1, SleepWindow: time.Second, HalfOpenProbes: 1},
		"half-open probes":  {FailureRatio: 0.5, MinRequests: 1, Window: time.Second, SleepWindow: time.Second},
		"failure ratio NaN": {FailureRatio: zero / zero, MinRequests: 1, Window: time.Second, SleepWindow: time.Second, HalfOpenProbes: 1},
	}
	for name, s := range bad {
		err := f.b.SetSettings(s)
		field, _, _ := strings.Cut(name, " NaN")
		if err == nil || !strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), "video") {
			t.Errorf("SetSettings with a bad %s: err = %v; want an error naming it and the callee", name, err)
		}
	}
	if f.b.Settings() != testSettings {
		t.Fatal("a refused SetSettings changed the settings")
	}

	f.open(t)
	loose := testSettings
	loose.MinRequests = 100
	if err := f.b.SetSettings(loose); err != nil {
		t.Fatal(err)
	}
	if s := f.state(t); s != Closed || f.gauge() != float64(Closed) {
		t.Fatalf("after SetSettings the breaker is %v (gauge %v); want closed", s, f.gauge())
	}
	for range 10 {
		_, _ = f.call(t)
	}
	if s := f.state(t); s != Closed || f.srv.hits.Load() != 14 {
		t.Fatalf("with 100 minimum requests, 10 failures left it %v after %d hits; want closed after 14", s, f.srv.hits.Load())
	}
}

var zero float64

func TestStreamOnlyEstablishmentCounts(t *testing.T) {
	table := rpc.Table{"/s.S/Watch": {FullMethod: "/s.S/Watch", Type: rpc.ServerStream, Timeout: time.Second}}
	b := New("feed", table)
	if err := b.SetSettings(testSettings); err != nil {
		t.Fatal(err)
	}
	var opened int
	failing := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		opened++
		return nil, status.Error(codes.Unavailable, "connection refused")
	}
	icpt := b.StreamClientInterceptor()
	for range 10 {
		_, _ = icpt(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, "/s.S/Watch", failing)
	}
	if opened != 4 {
		t.Fatalf("streamer called %d times; want 4, then drops", opened)
	}
	_, err := icpt(context.Background(), &grpc.StreamDesc{}, nil, "/s.S/Watch", failing)
	if !strings.Contains(err.Error(), "circuit breaker for feed/Watch is open") {
		t.Fatalf("dropped stream: %v", err)
	}
	// Methods outside the table are never guarded.
	for range 10 {
		_, _ = icpt(context.Background(), &grpc.StreamDesc{}, nil, "/s.S/Other", failing)
	}
	if opened != 14 {
		t.Fatalf("streamer called %d times; want 14: unknown methods pass through", opened)
	}
}

func TestNewMetricsErrors(t *testing.T) {
	if _, err := NewMetrics(nil); err == nil {
		t.Fatal("NewMetrics(nil) succeeded")
	}
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil || !strings.Contains(err.Error(), "breaker") {
		t.Fatalf("registering twice: err = %v", err)
	}
}

func TestDegradeRefusesNonProto(t *testing.T) {
	var nilResp *testgrpc.SimpleResponse
	if degrade(nil) || degrade(struct{}{}) || degrade(nilResp) {
		t.Fatal("degrade reset something that is not a usable message")
	}
}

// openedThenSlept returns a breaker of /s.S/Get that failures (code)
// opened and whose sleep window has just passed: the next call is a probe.
func openedThenSlept(t *testing.T, code codes.Code) (*Breakers, grpc.UnaryClientInterceptor) {
	t.Helper()
	table := rpc.Table{"/s.S/Get": {FullMethod: "/s.S/Get", Type: rpc.Unary, Timeout: time.Second}}
	b := New("user", table)
	if err := b.SetSettings(testSettings); err != nil {
		t.Fatal(err)
	}
	icpt := b.UnaryClientInterceptor()
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(code, "down")
	}
	for range testSettings.MinRequests {
		_ = icpt(context.Background(), "/s.S/Get", nil, nil, nil, fail)
	}
	time.Sleep(testSettings.SleepWindow + 20*time.Millisecond)
	return b, icpt
}

func TestHalfOpenLimitsProbes(t *testing.T) {
	b, icpt := openedThenSlept(t, codes.Internal)

	release := make(chan struct{})
	entered := make(chan struct{}, testSettings.HalfOpenProbes)
	slow := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		entered <- struct{}{}
		<-release
		return nil
	}
	done := make(chan error, testSettings.HalfOpenProbes)
	for range testSettings.HalfOpenProbes {
		go func() { done <- icpt(context.Background(), "/s.S/Get", nil, nil, nil, slow) }()
	}
	for range testSettings.HalfOpenProbes {
		<-entered
	}
	err := icpt(context.Background(), "/s.S/Get", nil, nil, nil, slow)
	if err == nil || !strings.Contains(err.Error(), "circuit breaker for user/Get is half-open and its 2 probe calls are in flight") {
		t.Fatalf("call beyond the probes: %v", err)
	}
	close(release)
	for range testSettings.HalfOpenProbes {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := b.State("/s.S/Get"); s != Closed {
		t.Fatalf("after the probes succeeded the breaker is %v; want closed", s)
	}
}

func TestOldFailuresLeaveTheWindow(t *testing.T) {
	table := rpc.Table{"/s.S/Get": {FullMethod: "/s.S/Get", Type: rpc.Unary, Timeout: time.Second}}
	b := New("user", table)
	s := testSettings
	s.Window = 100 * time.Millisecond
	if err := b.SetSettings(s); err != nil {
		t.Fatal(err)
	}
	icpt := b.UnaryClientInterceptor()
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(codes.Unavailable, "down")
	}
	for range s.MinRequests - 1 {
		_ = icpt(context.Background(), "/s.S/Get", nil, nil, nil, fail)
	}
	time.Sleep(s.Window + 30*time.Millisecond)
	_ = icpt(context.Background(), "/s.S/Get", nil, nil, nil, fail)
	if st, _ := b.State("/s.S/Get"); st != Closed {
		t.Fatalf("3 failures a window ago and 1 now left the breaker %v; want closed", st)
	}
	for range s.MinRequests - 1 {
		_ = icpt(context.Background(), "/s.S/Get", nil, nil, nil, fail)
	}
	if st, _ := b.State("/s.S/Get"); st != Open {
		t.Fatalf("4 failures within the window left the breaker %v; want open", st)
	}
}

func TestPanickingInvokerCountsAsFailure(t *testing.T) {
	b, icpt := openedThenSlept(t, codes.Unavailable)
	func() {
		defer func() { _ = recover() }()
		_ = icpt(context.Background(), "/s.S/Get", nil, nil, nil,
			func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { panic("boom") })
	}()
	if s, _ := b.State("/s.S/Get"); s != Open {
		t.Fatalf("a probe that panicked left the breaker %v; want open again", s)
	}
}
