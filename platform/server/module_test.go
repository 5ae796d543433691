package server

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

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
