// Package logging sets up the process's structured logger: log/slog, JSON by
// default, with the request id of the context on every line logged with one.
package logging

import (
	"context"
	"flag"
	"fmt"
	"github.com/tremolo-dev/tremolo/platform/tracing"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/tremolo-dev/tremolo/platform/requestid"
)

// Config chooses the logger's level and format.
type Config struct {
	// Level is debug, info, warn or error.
	Level string
	// Format is json or text.
	Format string
}

// RegisterFlags adds the logging flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Level, "log-level", "info", "minimum log level: debug, info, warn or error")
	fs.StringVar(&c.Format, "log-format", "json", "log format: json or text")
}

// New returns a logger writing to w as cfg says.
func New(cfg Config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("logging: -log-level %q: want debug, info, warn or error", cfg.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(cfg.Format) {
	case "json", "":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("logging: -log-format %q: want json or text", cfg.Format)
	}
	// Every line logged with a request's context carries its trace and
	// span ids, so a trace found in the tracing backend leads to its logs.
	return slog.New(&contextHandler{Handler: tracing.LogHandler(h)}), nil
}

// contextHandler adds request_id from the record's context.
type contextHandler struct{ slog.Handler }

func (h *contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := requestid.FromContext(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &contextHandler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h *contextHandler) WithGroup(name string) slog.Handler {
	return &contextHandler{Handler: h.Handler.WithGroup(name)}
}

// Module provides *slog.Logger (writing to stderr, from a supplied Config),
// makes it slog's default, and routes fx's own events to it at debug level.
// It must be installed at the app's top level, not inside an fx.Module:
// fx.WithLogger applies to the module it is given in.
var Module = fx.Options(
	fx.Provide(func(cfg Config) (*slog.Logger, error) {
		l, err := New(cfg, os.Stderr)
		if err == nil {
			slog.SetDefault(l)
		}
		return l, err
	}),
	fx.WithLogger(func(l *slog.Logger) fxevent.Logger {
		fl := &fxevent.SlogLogger{Logger: l}
		fl.UseLogLevel(slog.LevelDebug)
		return fl
	}),
)
