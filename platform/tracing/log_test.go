package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// decode returns the JSON log line in buf, and empties buf.
func decode(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("log line %q: %v", buf, err)
	}
	buf.Reset()
	return m
}

func TestLogHandlerAddsIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	ctx, span := recording(t, tracetest.NewSpanRecorder(), "a").Tracer("test").Start(context.Background(), "op")
	defer span.End()
	traceID, spanID := span.SpanContext().TraceID().String(), span.SpanContext().SpanID().String()

	log.InfoContext(ctx, "hello", "k", 1)
	m := decode(t, &buf)
	if m[TraceIDAttr] != traceID || m[SpanIDAttr] != spanID || m["k"] != 1.0 {
		t.Errorf("line %v: want trace_id %s, span_id %s", m, traceID, spanID)
	}

	log.Info("no context")
	log.InfoContext(context.Background(), "no span")
	for range 2 {
		line, _ := buf.ReadBytes('\n')
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m[TraceIDAttr]; ok {
			t.Errorf("line without a span has trace_id: %v", m)
		}
		if _, ok := m[SpanIDAttr]; ok {
			t.Errorf("line without a span has span_id: %v", m)
		}
	}

	// With and WithGroup keep the ids, at the top level, and keep what
	// they add where it belongs.
	log.With("svc", "a").WithGroup("req").With("path", "/x").WithGroup("db").InfoContext(ctx, "query", "rows", 3)
	m = decode(t, &buf)
	if m[TraceIDAttr] != traceID || m[SpanIDAttr] != spanID || m["svc"] != "a" {
		t.Errorf("grouped line %v: want top-level trace_id %s and svc", m, traceID)
	}
	req, _ := m["req"].(map[string]any)
	db, _ := req["db"].(map[string]any)
	if req["path"] != "/x" || db["rows"] != 3.0 {
		t.Errorf("grouped line %v: want req.path and req.db.rows", m)
	}
	log.With("svc", "a").WithGroup("req").InfoContext(context.Background(), "plain", "n", 1)
	m = decode(t, &buf)
	if req, _ := m["req"].(map[string]any); req["n"] != 1.0 || m[TraceIDAttr] != nil {
		t.Errorf("grouped line without span %v", m)
	}

	// Levels are the wrapped handler's.
	quiet := slog.New(LogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	quiet.InfoContext(ctx, "dropped")
	if buf.Len() != 0 {
		t.Errorf("info logged below warn: %s", buf.String())
	}
}

func TestLogHandlerNilContext(t *testing.T) {
	var buf bytes.Buffer
	h := LogHandler(slog.NewJSONHandler(&buf, nil))
	var ctx context.Context // a handler may be called with none
	if err := h.Handle(ctx, slog.Record{Message: "x"}); err != nil || !bytes.Contains(buf.Bytes(), []byte(`"msg":"x"`)) {
		t.Fatalf("%q, %v", buf.String(), err)
	}
}

func BenchmarkLogHandler(b *testing.B) {
	var buf bytes.Buffer
	plain := slog.New(slog.NewJSONHandler(&buf, nil))
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	ctx, span := recording(b, tracetest.NewSpanRecorder(), "a").Tracer("test").Start(context.Background(), "op")
	defer span.End()
	for _, bc := range []struct {
		name string
		log  *slog.Logger
		ctx  context.Context
	}{
		{"unwrapped", plain, ctx},
		{"no-span", log, context.Background()},
		{"span", log, ctx},
		{"span-group", log.WithGroup("g"), ctx},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				bc.log.InfoContext(bc.ctx, "hello", "k", 1)
			}
		})
	}
}
