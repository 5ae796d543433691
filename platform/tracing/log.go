package tracing

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// The log attributes naming a record's span, as lower-case hex, the form
// tracing backends show and search by.
const (
	TraceIDAttr = "trace_id"
	SpanIDAttr  = "span_id"
)

// LogHandler returns a handler that adds trace_id and span_id to every
// record logged with a context holding a valid span context (the handler's
// context under the interceptors and the middleware), so a log line leads
// to its trace and a trace to its logs. Records without one cost a context
// lookup.
//
// The ids go at the top level of the record even under Logger.WithGroup,
// where a record's own attributes go into the group: they are found by the
// same name on every line. That case costs more, as the handler rebuilds
// the group for each such record; the platform does not log with groups.
func LogHandler(h slog.Handler) slog.Handler {
	return &logHandler{h: h, base: h}
}

type logHandler struct {
	// h is the wrapped handler with every WithAttrs and WithGroup applied.
	h slog.Handler
	// base is the wrapped handler before the first group, and ops what
	// was applied after it, in order; ops is nil while there is no group.
	base slog.Handler
	ops  []logOp
}

// logOp is a WithAttrs (group == "") or a WithGroup made after a group.
type logOp struct {
	group string
	attrs []slog.Attr
}

func (l *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return l.h.Handle(ctx, r)
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return l.h.Handle(ctx, r)
	}
	ids := [2]slog.Attr{
		slog.String(TraceIDAttr, sc.TraceID().String()),
		slog.String(SpanIDAttr, sc.SpanID().String()),
	}
	if l.ops == nil {
		r.AddAttrs(ids[:]...)
		return l.h.Handle(ctx, r)
	}
	h := l.base.WithAttrs(ids[:])
	for _, op := range l.ops {
		if op.group != "" {
			h = h.WithGroup(op.group)
		} else {
			h = h.WithAttrs(op.attrs)
		}
	}
	return h.Handle(ctx, r)
}

func (l *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return l
	}
	n := &logHandler{h: l.h.WithAttrs(attrs), base: l.base}
	if l.ops == nil {
		n.base = n.h
	} else {
		n.ops = append(l.ops[:len(l.ops):len(l.ops)], logOp{attrs: attrs})
	}
	return n
}

func (l *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return l
	}
	return &logHandler{
		h:    l.h.WithGroup(name),
		base: l.base,
		ops:  append(l.ops[:len(l.ops):len(l.ops)], logOp{group: name}),
	}
}
