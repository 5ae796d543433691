package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tremolo-dev/tremolo/platform/client"

	"github.com/tremolo-dev/tremolo/platform/metrics"
)

// A listener that fails after start must take the whole app down with a
// non-zero exit code rather than leave a process that serves nothing.
func TestServeErrorShutsAppDown(t *testing.T) {
	var s *Server
	a := fxtest.New(t,
		fx.Supply(loopback(), slog.New(slog.NewTextHandler(io.Discard, nil))),
		metrics.Module,
		Module,
		fx.Populate(&s),
	)
	a.RequireStart()
	defer a.RequireStop()

	s.serve("test", func() error { return errors.New("accept: too many open files") })
	select {
	case sig := <-a.Wait():
		if sig.ExitCode != 1 {
			t.Fatalf("exit code %d; want 1", sig.ExitCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("app still running after a serve error")
	}
}

// callerService depends on a generated-style client of another service in the
// same process: the wiring every composing service (feed, edge) relies on.
type callerService struct{ conn grpc.ClientConnInterface }

func TestServiceCallingAnotherServiceInProcess(t *testing.T) {
	var s *Server
	var caller *callerService
	a := fxtest.New(t,
		fx.Supply(loopback(), slog.New(slog.NewTextHandler(io.Discard, nil)), client.Config{}),
		metrics.Module,
		client.Module,
		Module,
		fx.Provide(
			func(c *client.Conns) (*callerService, error) {
				cc, err := c.Conn("test", testMethods)
				return &callerService{conn: cc}, err
			},
			func(c *callerService) ServiceResult {
				return ServiceResult{Service: Service{Desc: &testDesc, Impl: testService{}, Methods: testMethods}}
			},
		),
		fx.Populate(&s, &caller),
	)
	a.RequireStart()
	defer a.RequireStop()
	var out emptypb.Empty
	if err := caller.conn.Invoke(context.Background(), "/test.v1.Test/Sleep", durationpb.New(0), &out); err != nil {
		t.Fatalf("in-process call: %v", err)
	}
}
