package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/metrics"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// testService is a hand-written gRPC service: Sleep waits for the requested
// duration or until its context ends; Panic panics.
type testService struct{}

func (testService) sleep(ctx context.Context, d *durationpb.Duration) (*emptypb.Empty, error) {
	select {
	case <-time.After(d.AsDuration()):
		return &emptypb.Empty{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func unaryHandler[Req any](call func(context.Context, *Req) (*emptypb.Empty, error), name string) grpc.MethodDesc {
	return grpc.MethodDesc{MethodName: name, Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		in := new(Req)
		if err := dec(in); err != nil {
			return nil, err
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/test.v1.Test/" + name}
		return icpt(ctx, in, info, func(ctx context.Context, req any) (any, error) { return call(ctx, req.(*Req)) })
	}}
}

var testDesc = grpc.ServiceDesc{
	ServiceName: "test.v1.Test",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		unaryHandler(testService{}.sleep, "Sleep"),
		unaryHandler(func(context.Context, *emptypb.Empty) (*emptypb.Empty, error) { panic("boom") }, "Panic"),
		unaryHandler(func(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
			if id, ok := auth.UserID(ctx); !ok || id != 42 {
				return nil, fmt.Errorf("handler saw user %d, %v", id, ok)
			}
			return &emptypb.Empty{}, nil
		}, "WhoAmI"),
	},
}

var testMethods = []rpc.Method{
	{FullMethod: "/test.v1.Test/Sleep", Type: rpc.Unary, Timeout: 300 * time.Millisecond, Auth: rpc.AuthPublic},
	{FullMethod: "/test.v1.Test/Panic", Type: rpc.Unary, Timeout: time.Second, Auth: rpc.AuthPublic},
	{FullMethod: "/test.v1.Test/WhoAmI", Type: rpc.Unary, Timeout: time.Second, Auth: rpc.AuthUser},
}

func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	return startWith(t, cfg, []Service{{Desc: &testDesc, Impl: testService{}, Methods: testMethods}}, Options{Gatherer: metrics.NewRegistry()})
}

// startWith builds and starts a server that logs nowhere, stopped when the
// test ends.
func startWith(tb testing.TB, cfg Config, services []Service, opts Options) *Server {
	tb.Helper()
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), services, opts)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

func loopback() Config {
	return Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 2 * time.Second}
}

func dial(t *testing.T, s *Server) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthAndMetricsEndpoints(t *testing.T) {
	s := startServer(t, loopback())
	base := "http://" + s.HTTPAddr().String()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics = %d", code)
	}
	resp, err := healthpb.NewHealthClient(dial(t, s)).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "test.v1.Test"})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health = %v, %v", resp, err)
	}
}

func TestBusyPortFailsStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	freeAddr := free.Addr().String()
	free.Close()

	cfg := Config{GRPCAddr: freeAddr, HTTPAddr: busy.Addr().String()}
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("Start on a busy port: err = %v; want one naming %s", err, busy.Addr())
	}
	// The gRPC listener bound first must have been released.
	l, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("gRPC port left bound after a failed start: %v", err)
	}
	l.Close()
}

func TestMethodTimeoutFromTable(t *testing.T) {
	s := startServer(t, loopback())
	cc := dial(t, s)
	var out emptypb.Empty
	start := time.Now()
	err := cc.Invoke(context.Background(), "/test.v1.Test/Sleep", durationpb.New(5*time.Second), &out)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("err = %v; want DeadlineExceeded from the 300ms method timeout", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("timeout not applied: call took %v", el)
	}
	if err := cc.Invoke(context.Background(), "/test.v1.Test/Sleep", durationpb.New(time.Millisecond), &out); err != nil {
		t.Fatalf("short call failed: %v", err)
	}
}

func TestPanicBecomesInternalAndServerSurvives(t *testing.T) {
	s := startServer(t, loopback())
	cc := dial(t, s)
	var out emptypb.Empty
	err := cc.Invoke(context.Background(), "/test.v1.Test/Panic", &emptypb.Empty{}, &out)
	if st, _ := status.FromError(err); st.Code() != codes.Internal || strings.Contains(st.Message(), "boom") {
		t.Fatalf("panic -> %v; want INTERNAL without the panic text", err)
	}
	if err := cc.Invoke(context.Background(), "/test.v1.Test/Sleep", durationpb.New(0), &out); err != nil {
		t.Fatalf("server unusable after a panic: %v", err)
	}
}

func TestGracefulStopFinishesInFlight(t *testing.T) {
	s := startServer(t, loopback())
	cc := dial(t, s)
	done := make(chan error, 1)
	go func() {
		var out emptypb.Empty
		done <- cc.Invoke(context.Background(), "/test.v1.Test/Sleep", durationpb.New(150*time.Millisecond), &out)
	}()
	time.Sleep(50 * time.Millisecond)
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("in-flight RPC failed during graceful stop: %v", err)
	}
	if _, err := http.Get("http://" + s.HTTPAddr().String() + "/healthz"); err == nil {
		t.Fatal("HTTP still serving after Stop")
	}
}

func TestStopDeadlineCancelsInFlight(t *testing.T) {
	cfg := loopback()
	cfg.ShutdownTimeout = 100 * time.Millisecond
	s := startServer(t, cfg)
	cc := dial(t, s)
	done := make(chan error, 1)
	go func() {
		var out emptypb.Empty
		ctx := context.Background()
		done <- cc.Invoke(ctx, "/test.v1.Test/Sleep", durationpb.New(250*time.Millisecond), &out)
	}()
	time.Sleep(30 * time.Millisecond)
	start := time.Now()
	_ = s.Stop(context.Background())
	if el := time.Since(start); el > 220*time.Millisecond {
		t.Fatalf("Stop took %v; the 100ms shutdown budget was not enforced", el)
	}
	if err := <-done; err == nil {
		t.Fatal("in-flight RPC succeeded although the shutdown deadline passed")
	}
}

// The method timeout applies when the caller's deadline is later, and the
// caller's applies when it is earlier.
func TestMethodTimeoutAgainstCallerDeadline(t *testing.T) {
	s := startServer(t, loopback())
	cc := dial(t, s)
	var out emptypb.Empty
	for _, tc := range []struct {
		caller, maxElapsed time.Duration
	}{
		{5 * time.Second, 2 * time.Second},              // the 300ms method timeout cuts it
		{50 * time.Millisecond, 250 * time.Millisecond}, // the caller's 50ms wins
	} {
		ctx, cancel := context.WithTimeout(context.Background(), tc.caller)
		start := time.Now()
		err := cc.Invoke(ctx, "/test.v1.Test/Sleep", durationpb.New(10*time.Second), &out)
		cancel()
		if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > tc.maxElapsed {
			t.Fatalf("caller deadline %v: err %v after %v", tc.caller, err, time.Since(start))
		}
	}
}

// Methods declared AUTH_USER refuse calls without a user; the user the edge
// verified reaches the handler.
func TestAuthUserMethods(t *testing.T) {
	s := startServer(t, loopback())
	cc := dial(t, s)
	var out emptypb.Empty
	err := cc.Invoke(context.Background(), "/test.v1.Test/WhoAmI", &emptypb.Empty{}, &out)
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without a user: %v; want Unauthenticated", err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), auth.MetadataKey, "42")
	if err := cc.Invoke(ctx, "/test.v1.Test/WhoAmI", &emptypb.Empty{}, &out); err != nil {
		t.Fatalf("with user 42: %v", err)
	}
	ctx = metadata.AppendToOutgoingContext(context.Background(), auth.MetadataKey, "not-a-number")
	if err := cc.Invoke(ctx, "/test.v1.Test/WhoAmI", &emptypb.Empty{}, &out); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("with a malformed user id: %v; want Unauthenticated", err)
	}
}

// Two hops that both set the user id send it twice: one id. Different ids
// are refused.
func TestRepeatedUserMetadata(t *testing.T) {
	s := startServer(t, loopback())
	cc := dial(t, s)
	var out emptypb.Empty
	ctx := metadata.AppendToOutgoingContext(context.Background(), auth.MetadataKey, "42", auth.MetadataKey, "42")
	if err := cc.Invoke(ctx, "/test.v1.Test/WhoAmI", &emptypb.Empty{}, &out); err != nil {
		t.Fatalf("repeated identical user ids: %v", err)
	}
	ctx = metadata.AppendToOutgoingContext(context.Background(), auth.MetadataKey, "42", auth.MetadataKey, "43")
	if err := cc.Invoke(ctx, "/test.v1.Test/WhoAmI", &emptypb.Empty{}, &out); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("conflicting user ids: %v; want Unauthenticated", err)
	}
}

// An HTTP request still running when the shutdown budget ends is cut, and
// Stop reports success: the stop went as configured.
func TestHTTPStopDeadline(t *testing.T) {
	cfg := loopback()
	cfg.ShutdownTimeout = 100 * time.Millisecond
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, Options{Handlers: []Handler{{Pattern: "/slow", Handler: slow}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = http.Get("http://" + s.HTTPAddr().String() + "/slow") }()
	<-started
	begin := time.Now()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after the budget: %v", err)
	}
	if el := time.Since(begin); el > 2*time.Second {
		t.Fatalf("Stop took %v; the 100ms budget was not enforced", el)
	}
}

// Two modules serving one pattern is a configuration error at start-up.
func TestConflictingHandlersFailNew(t *testing.T) {
	h := http.NotFoundHandler()
	_, err := New(loopback(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil,
		Options{Handlers: []Handler{{Pattern: "GET /media/", Handler: h}, {Pattern: "GET /media/", Handler: h}}})
	if err == nil || !strings.Contains(err.Error(), "/media/") {
		t.Fatalf("New with two GET /media/ handlers: %v", err)
	}
}
