package dynconfig

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// call is one apply call a recorder saw.
type call struct {
	data    string
	present bool
}

func (c call) String() string {
	if !c.present {
		return "<absent>"
	}
	return fmt.Sprintf("%q", c.data)
}

// recorder subscribes to a document and records every call, refusing
// documents for which reject returns an error.
type recorder struct {
	calls  chan call
	reject func(data []byte) error
}

func record(t *testing.T, w *Watcher, name string) *recorder {
	return recordRejecting(t, w, name, nil)
}

func recordRejecting(t *testing.T, w *Watcher, name string, reject func([]byte) error) *recorder {
	t.Helper()
	r := &recorder{calls: make(chan call, 100), reject: reject}
	w.Subscribe(name, func(data []byte, present bool) error {
		if r.reject != nil && present {
			if err := r.reject(data); err != nil {
				return err
			}
		}
		r.calls <- call{string(data), present}
		return nil
	})
	return r
}

// expect waits for the next call and checks it.
func (r *recorder) expect(t *testing.T, want call, within time.Duration) {
	t.Helper()
	select {
	case got := <-r.calls: // already there: no need for a timer
		if got != want {
			t.Fatalf("apply called with %v, want %v", got, want)
		}
		return
	default:
	}
	select {
	case got := <-r.calls:
		if got != want {
			t.Fatalf("apply called with %v, want %v", got, want)
		}
	case <-time.After(within):
		t.Fatalf("apply not called with %v within %v", want, within)
	}
}

// expectNone checks that no call arrives during d.
func (r *recorder) expectNone(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-r.calls:
		t.Fatalf("unexpected apply call with %v", got)
	case <-time.After(d):
	}
}

// startWatcher starts a Watcher of src, stopped when t ends.
func startWatcher(t *testing.T, src Source, opts Options) *Watcher {
	t.Helper()
	w, err := NewWatcher(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return w
}

// writeFile replaces a file atomically, as editors and Kubernetes do.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// logBuffer is a concurrency-safe log sink for checking what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
