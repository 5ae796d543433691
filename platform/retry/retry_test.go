package retry

import (
	"context"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fullstorydev/grpchan"
	"github.com/fullstorydev/grpchan/inprocgrpc"
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

const (
	unaryCall = "/grpc.testing.TestService/UnaryCall" // idempotent
	emptyCall = "/grpc.testing.TestService/EmptyCall" // not idempotent
)

var table = rpc.Table{
	unaryCall: {FullMethod: unaryCall, Type: rpc.Unary, Timeout: time.Second, Idempotent: true},
	emptyCall: {FullMethod: emptyCall, Type: rpc.Unary, Timeout: time.Second},
}

// flaky fails its first calls with a code, then succeeds, counting the
// calls that reach it.
type flaky struct {
	testgrpc.UnimplementedTestServiceServer
	hits     atomic.Int64
	failures atomic.Int64 // calls left to fail
	code     atomic.Int32
	delay    atomic.Int64 // nanoseconds each call takes
}

func (f *flaky) serve(ctx context.Context) error {
	f.hits.Add(1)
	if d := time.Duration(f.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	if f.failures.Add(-1) >= 0 {
		return status.Error(codes.Code(f.code.Load()), "failing on demand")
	}
	return nil
}

func (f *flaky) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if err := f.serve(ctx); err != nil {
		return nil, err
	}
	return &testgrpc.SimpleResponse{Username: "alice"}, nil
}

func (f *flaky) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	if err := f.serve(ctx); err != nil {
		return nil, err
	}
	return &testgrpc.Empty{}, nil
}

func (f *flaky) fail(n int64, c codes.Code) {
	f.code.Store(int32(c))
	f.failures.Store(n)
}

type fixture struct {
	srv     *flaky
	client  testgrpc.TestServiceClient
	r       *Retrier
	metrics *Metrics
}

// setup serves a flaky TestService on loopback and dials it through a
// Retrier for callee "video" (backoff 1-2ms unless opts say otherwise),
// followed by the platform's error decoding.
func setup(t *testing.T, opts ...Option) *fixture {
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
	f := newFixture(t, srv, opts...)
	cc, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(f.r.UnaryClientInterceptor(), apierror.UnaryClientInterceptor()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	f.client = testgrpc.NewTestServiceClient(cc)
	return f
}

func newFixture(t *testing.T, srv *flaky, opts ...Option) *fixture {
	t.Helper()
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r, err := New("video", table, append([]Option{WithBackoff(time.Millisecond, 2*time.Millisecond), WithMetrics(metrics)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, r: r, metrics: metrics}
}

func (f *fixture) retries() float64 {
	return testutil.ToFloat64(f.metrics.attempts.WithLabelValues("video", "UnaryCall"))
}

func (f *fixture) exhausted() float64 {
	return testutil.ToFloat64(f.metrics.exhausted.WithLabelValues("video"))
}

func call(t *testing.T, c testgrpc.TestServiceClient) (*testgrpc.SimpleResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.UnaryCall(ctx, &testgrpc.SimpleRequest{})
}

func TestRetriesIdempotentUntilSuccess(t *testing.T) {
	f := setup(t)
	f.srv.fail(2, codes.Unavailable)
	resp, err := call(t, f.client)
	if err != nil || resp.GetUsername() != "alice" {
		t.Fatalf("call: %v, %v; want success on the third attempt", resp, err)
	}
	if got := f.srv.hits.Load(); got != 3 {
		t.Fatalf("server hits = %d; want 3", got)
	}
	if got := f.retries(); got != 2 {
		t.Fatalf("retries counted = %v; want 2", got)
	}
}

func TestGivesUpAfterAttempts(t *testing.T) {
	f := setup(t)
	f.srv.fail(10, codes.Unavailable)
	if _, err := call(t, f.client); status.Code(err) != codes.Unavailable {
		t.Fatalf("err = %v; want the last attempt's UNAVAILABLE", err)
	}
	if got := f.srv.hits.Load(); got != rpc.DefaultMaxAttempts {
		t.Fatalf("server hits = %d; want %d", got, rpc.DefaultMaxAttempts)
	}
}

func TestNeverRetriesNonIdempotent(t *testing.T) {
	f := setup(t)
	f.srv.fail(1, codes.Unavailable)
	if _, err := f.client.EmptyCall(context.Background(), &testgrpc.Empty{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("err = %v; want UNAVAILABLE", err)
	}
	if got := f.srv.hits.Load(); got != 1 {
		t.Fatalf("server hits = %d; want 1", got)
	}
}

func TestOnlyUnavailableIsRetried(t *testing.T) {
	for _, c := range []codes.Code{codes.ResourceExhausted, codes.DeadlineExceeded, codes.Internal, codes.NotFound, codes.Aborted} {
		f := setup(t)
		f.srv.fail(1, c)
		if _, err := call(t, f.client); status.Code(err) != c {
			t.Fatalf("err = %v; want %v", err, c)
		}
		if got := f.srv.hits.Load(); got != 1 {
			t.Fatalf("%v: server hits = %d; want 1", c, got)
		}
	}
}

func TestBudgetBoundsRetries(t *testing.T) {
	f := setup(t)
	f.srv.fail(math.MaxInt64, codes.Unavailable)
	for range 100 {
		if _, err := call(t, f.client); status.Code(err) != codes.Unavailable {
			t.Fatalf("err = %v; want UNAVAILABLE", err)
		}
	}
	// Tokens go 10 → 9, 8 (two retries of the first call) → 7 (its last
	// attempt) → 6 (one retry of the second call) → 5, the threshold: from
	// then on no call is retried. Without the budget there would be 200.
	if got := f.srv.hits.Load(); got != 103 {
		t.Fatalf("server hits = %d for 100 calls; want 103", got)
	}
	if f.retries() != 3 || f.exhausted() != 99 {
		t.Fatalf("retries %v, budget exhausted %v; want 3, 99", f.retries(), f.exhausted())
	}

	// Successes refill the bucket a tenth of a token each: it needs to go
	// from 0 back above 5.
	f.srv.fail(0, codes.OK)
	for range 50 {
		if _, err := call(t, f.client); err != nil {
			t.Fatal(err)
		}
	}
	f.srv.fail(1, codes.Unavailable)
	if _, err := call(t, f.client); status.Code(err) != codes.Unavailable {
		t.Fatalf("with 5 tokens a failure was retried: %v", err)
	}
	// 4 tokens now; 30 successes bring 7, and a failure leaves 6.
	f.srv.fail(0, codes.OK)
	for range 30 {
		_, _ = call(t, f.client)
	}
	f.srv.fail(1, codes.Unavailable)
	if _, err := call(t, f.client); err != nil {
		t.Fatalf("with the bucket refilled a failure was not retried: %v", err)
	}
}

func TestBudgetBoundsConcurrentRetries(t *testing.T) {
	f := setup(t)
	f.srv.fail(math.MaxInt64, codes.Unavailable)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				_, _ = call(t, f.client)
			}
		})
	}
	wg.Wait()
	// However calls interleave, a retry needs a failure that leaves more
	// than 5 of the 10 tokens: at most 4.
	if got := f.srv.hits.Load(); got > 160+4 {
		t.Fatalf("server hits = %d for 160 calls; want at most 164", got)
	}
}

func TestDeadlineRespected(t *testing.T) {
	t.Run("attempt that cannot finish is not started", func(t *testing.T) {
		f := setup(t)
		f.srv.fail(10, codes.Unavailable)
		f.srv.delay.Store(int64(30 * time.Millisecond))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		// A second 30ms attempt does not fit in the 20ms left: the first
		// attempt's error comes back, not the deadline's.
		_, err := f.client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.Unavailable || f.srv.hits.Load() != 1 {
			t.Fatalf("err = %v after %d hits; want the first attempt's UNAVAILABLE", err, f.srv.hits.Load())
		}
	})
	t.Run("backoff longer than the deadline", func(t *testing.T) {
		f := setup(t, WithBackoff(200*time.Millisecond, 200*time.Millisecond))
		f.r.jitter = func(n time.Duration) time.Duration { return n }
		f.srv.fail(10, codes.Unavailable)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := f.client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.Unavailable || f.srv.hits.Load() != 1 || time.Since(start) > 90*time.Millisecond {
			t.Fatalf("err = %v after %d hits and %v; want UNAVAILABLE at once", err, f.srv.hits.Load(), time.Since(start))
		}
	})
	t.Run("cancelled during backoff", func(t *testing.T) {
		f := setup(t, WithBackoff(time.Second, time.Second))
		f.r.jitter = func(n time.Duration) time.Duration { return n }
		f.srv.fail(10, codes.Unavailable)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		_, err := f.client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.Canceled || f.srv.hits.Load() != 1 || time.Since(start) > 500*time.Millisecond {
			t.Fatalf("err = %v after %d hits and %v; want CANCELED soon after the cancel", err, f.srv.hits.Load(), time.Since(start))
		}
	})
}

// TestInProcessChannel retries over grpchan's in-process channel, the way
// platform/client wires services of one process.
func TestInProcessChannel(t *testing.T) {
	srv := &flaky{}
	ch := new(inprocgrpc.Channel)
	testgrpc.RegisterTestServiceServer(ch, srv)
	f := newFixture(t, srv)
	client := testgrpc.NewTestServiceClient(grpchan.InterceptClientConnUnary(ch, f.r.UnaryClientInterceptor(), apierror.UnaryClientInterceptor()))
	srv.fail(2, codes.Unavailable)
	if resp, err := call(t, client); err != nil || resp.GetUsername() != "alice" || srv.hits.Load() != 3 {
		t.Fatalf("in-process call: %v, %v after %d hits; want success after 3", resp, err, srv.hits.Load())
	}
}

func TestBackoff(t *testing.T) {
	r, err := New("video", table)
	if err != nil {
		t.Fatal(err)
	}
	r.jitter = func(n time.Duration) time.Duration { return n }
	want := []time.Duration{10, 20, 40, 80, 160, 200, 200}
	for i, w := range want {
		if got := r.backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v; want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := r.backoff(1000); got != DefaultMax {
		t.Errorf("backoff(1000) = %v; want the cap", got)
	}
	huge, _ := New("video", table, WithBackoff(time.Duration(math.MaxInt64/3), time.Duration(math.MaxInt64)))
	huge.jitter = r.jitter
	if got := huge.backoff(5); got != time.Duration(math.MaxInt64) {
		t.Errorf("backoff that would overflow = %v; want the cap", got)
	}
	// The real jitter stays within [0, ceiling].
	r2, _ := New("video", table)
	for range 1000 {
		if d := r2.backoff(2); d < 0 || d > 20*time.Millisecond {
			t.Fatalf("jittered backoff(2) = %v; want within [0, 20ms]", d)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	bad := map[string]Option{
		"backoff base":      WithBackoff(0, time.Second),
		"backoff base 2":    WithBackoff(time.Second, time.Millisecond),
		"max tokens":        WithBudget(0, 0.1),
		"max tokens 2":      WithBudget(1001, 0.1),
		"token ratio":       WithBudget(10, 0),
		"token ratio 2":     WithBudget(10, 11),
		"max tokens NaN":    WithBudget(math.NaN(), 0.1),
		"token ratio NaN 2": WithBudget(10, math.NaN()),
	}
	for name, opt := range bad {
		field := strings.TrimRight(strings.TrimSuffix(strings.TrimSuffix(name, " 2"), " NaN"), " ")
		r, err := New("video", table, opt)
		if err == nil || r != nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: New = %v, %v; want an error naming %q", name, r, err, field)
		}
	}
	if _, err := NewMetrics(nil); err == nil {
		t.Error("NewMetrics(nil) succeeded")
	}
}

func TestBudgetLikeGRPC(t *testing.T) {
	// gRPC's own test: max 4 tokens (threshold 2), ratio 1.6.
	b := newBudget(4, 1.6)
	steps := []struct {
		fail  bool
		allow bool
		left  float64
	}{{true, true, 3}, {false, false, 4}, {true, true, 3}, {true, false, 2}, {true, false, 1}, {false, false, 2.6}, {false, false, 4}}
	for i, s := range steps {
		if s.fail {
			if got := b.failure(); got != s.allow {
				t.Fatalf("step %d: failure allowed a retry: %v; want %v", i, got, s.allow)
			}
		} else {
			b.success()
		}
		if b.tokens() != s.left {
			t.Fatalf("step %d: %v tokens; want %v", i, b.tokens(), s.left)
		}
	}
}
