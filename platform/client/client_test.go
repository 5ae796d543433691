package client

import (
	"context"
	"errors"
	"flag"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// slowHealth answers Check after a delay, or with an error for service "bad".
type slowHealth struct {
	healthpb.UnimplementedHealthServer
	delay time.Duration
}

func (h slowHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if req.Service == "bad" {
		return nil, apierror.Platform(codes.PermissionDenied).Err()
	}
	select {
	case <-time.After(h.delay):
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func serve(t *testing.T, delay time.Duration) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, slowHealth{delay: delay})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

var healthMethods = []rpc.Method{{FullMethod: "/grpc.health.v1.Health/Check", Type: rpc.Unary, Timeout: 100 * time.Millisecond}}

func TestConfiguredTarget(t *testing.T) {
	addr := serve(t, 0)
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var cfg Config
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"-target", "health=" + addr}); err != nil {
		t.Fatal(err)
	}
	c := New(cfg, Local{}, Options{})
	defer c.Close()
	cc, err := c.Conn("health", healthMethods)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Conn("health", healthMethods); again != cc {
		t.Fatal("a second Conn for one service made another connection")
	}
	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	// Errors arrive decoded.
	_, err = healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "bad"})
	var e *apierror.Error
	if !errors.As(err, &e) || e.Spec().Code != codes.PermissionDenied {
		t.Fatalf("err = %T %v; want a decoded *apierror.Error", err, err)
	}
}

func TestLocalFallbackAndMissingTarget(t *testing.T) {
	addr := serve(t, 0)
	c := New(Config{}, Local{Addr: func(context.Context) (string, error) { return addr, nil }}, Options{})
	defer c.Close()
	cc, err := c.Conn("anything", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("call through the local fallback: %v", err)
	}
	if _, err := New(Config{}, Local{}, Options{}).Conn("video", nil); err == nil {
		t.Fatal("no target and no local server: Conn succeeded")
	}
}

func TestDeclaredTimeoutAppliesWithoutDeadline(t *testing.T) {
	addr := serve(t, time.Second)
	c := New(Config{Targets: map[string]string{"health": addr}}, Local{}, Options{})
	defer c.Close()
	cc, _ := c.Conn("health", healthMethods)
	start := time.Now()
	_, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 800*time.Millisecond {
		t.Fatalf("err = %v after %v; want DeadlineExceeded from the 100ms method timeout", err, time.Since(start))
	}
}

func TestConnAfterClose(t *testing.T) {
	c := New(Config{}, Local{}, Options{})
	_ = c.Close()
	if _, err := c.Conn("user", nil); err == nil {
		t.Fatal("Conn after Close succeeded")
	}
}

func TestTargetFlagRejectsMalformed(t *testing.T) {
	var cfg Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"-target", "user"}); err == nil {
		t.Fatal("-target without = accepted")
	}
}
