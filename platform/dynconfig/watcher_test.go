package dynconfig

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const soon = 2 * time.Second

func TestWatcherCallsWithCurrentValueThenChangesOnly(t *testing.T) {
	src := NewMemorySource(map[string][]byte{"a": []byte("a: 1")})
	w, err := NewWatcher(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := record(t, w, "a") // before Start: called with the first snapshot
	absent := record(t, w, "b")
	before.expectNone(t, 50*time.Millisecond)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer w.Stop(context.Background())
	before.expect(t, call{"a: 1", true}, soon)
	absent.expect(t, call{"", false}, soon)

	after := record(t, w, "a") // after: called at once, in Subscribe
	after.expect(t, call{"a: 1", true}, 0)

	src.Set("b", []byte("b: 1"))
	absent.expect(t, call{"b: 1", true}, soon)
	before.expectNone(t, 100*time.Millisecond) // a did not change

	src.Set("a", []byte("a: 1")) // same bytes: no call
	src.Set("a", []byte("a: 2"))
	before.expect(t, call{"a: 2", true}, soon)
	after.expect(t, call{"a: 2", true}, soon)

	src.Delete("a")
	before.expect(t, call{"", false}, soon)
	src.Delete("a") // still absent: no call
	src.Set("b", []byte("b: 2"))
	absent.expect(t, call{"b: 2", true}, soon)
	before.expectNone(t, 100*time.Millisecond)
}

func TestWatcherRejectionKeepsOfferingOnlyNewBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	logger, logs := newLogger(t)
	src := NewMemorySource(map[string][]byte{"limits": []byte("good 1")})
	w := startWatcher(t, src, Options{Registerer: reg, Logger: logger})
	var offered atomic.Int32
	r := recordRejecting(t, w, "limits", func(data []byte) error {
		offered.Add(1)
		if strings.HasPrefix(string(data), "bad") {
			return errors.New("rate must be positive")
		}
		return nil
	})
	r.expect(t, call{"good 1", true}, 0)

	src.Set("limits", []byte("bad 1"))
	waitFor(t, func() bool { return testutil.ToFloat64(w.metrics.rejected.WithLabelValues("limits")) == 1 })
	r.expectNone(t, 50*time.Millisecond)
	if !strings.Contains(logs.String(), "document rejected") || !strings.Contains(logs.String(), "name=limits") || !strings.Contains(logs.String(), "rate must be positive") {
		t.Errorf("the rejection is not logged with the name and the error:\n%s", logs)
	}
	// Another snapshot with the same bad bytes is not offered again.
	src.Set("other", []byte("x"))
	time.Sleep(50 * time.Millisecond)
	if n := offered.Load(); n != 2 {
		t.Errorf("apply offered %d times, want 2 (good 1, bad 1)", n)
	}

	src.Set("limits", []byte("good 2"))
	r.expect(t, call{"good 2", true}, soon)
	// Counted once apply has returned, a moment after it recorded the call.
	waitFor(t, func() bool { return testutil.ToFloat64(w.metrics.applied.WithLabelValues("limits")) == 2 })
	if got := testutil.ToFloat64(w.metrics.lastApplied.WithLabelValues("limits")); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last_applied_timestamp_seconds = %v, want about now", got)
	}
	n, err := testutil.GatherAndCount(reg, "tremolo_dynconfig_rejected_total", "tremolo_dynconfig_applied_total", "tremolo_dynconfig_last_applied_timestamp_seconds")
	if err != nil || n != 3 {
		t.Errorf("exported series: %d, %v; want 3", n, err)
	}
}

func TestWatcherPanickingApplyIsARejection(t *testing.T) {
	src := NewMemorySource(map[string][]byte{"a": []byte("boom")})
	w := startWatcher(t, src, Options{})
	w.Subscribe("a", func(data []byte, present bool) error {
		if string(data) == "boom" {
			panic("consumer choked")
		}
		return nil
	})
	if got := testutil.ToFloat64(w.metrics.rejected.WithLabelValues("a")); got != 1 {
		t.Errorf("rejected_total = %v after a panic, want 1", got)
	}
}

func TestWatcherUnsubscribe(t *testing.T) {
	src := NewMemorySource(nil)
	w := startWatcher(t, src, Options{})
	calls := make(chan string, 10)
	var stop func()
	stop = w.Subscribe("a", func(data []byte, present bool) error {
		calls <- string(data)
		if string(data) == "last" {
			stop() // from inside apply: must not deadlock
		}
		return nil
	})
	<-calls // absent
	src.Set("a", []byte("last"))
	if got := <-calls; got != "last" {
		t.Fatalf("got %q", got)
	}
	src.Set("a", []byte("after"))
	select {
	case got := <-calls:
		t.Fatalf("apply called with %q after unsubscribing", got)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestWatcherGivesApplyItsOwnCopy(t *testing.T) {
	src := NewMemorySource(map[string][]byte{"a": []byte("abc")})
	w := startWatcher(t, src, Options{})
	w.Subscribe("a", func(data []byte, _ bool) error {
		copy(data, "XXX")
		return nil
	})
	r := record(t, w, "a")
	r.expect(t, call{"abc", true}, 0)
}

// A slow subscriber sees the newest state, not every state in between.
func TestWatcherCoalesces(t *testing.T) {
	src := NewMemorySource(nil)
	w := startWatcher(t, src, Options{})
	release := make(chan struct{})
	var seen []string
	done := make(chan struct{})
	w.Subscribe("a", func(data []byte, present bool) error {
		if !present {
			return nil
		}
		seen = append(seen, string(data))
		if string(data) == "v0" {
			<-release
		}
		if string(data) == "v99" {
			close(done)
		}
		return nil
	})
	src.Set("a", []byte("v0"))
	time.Sleep(20 * time.Millisecond)
	for i := 1; i < 100; i++ {
		src.Set("a", fmt.Appendf(nil, "v%d", i))
	}
	close(release)
	select {
	case <-done:
	case <-time.After(soon):
		t.Fatalf("the newest state never arrived; seen %v", seen)
	}
	if len(seen) > 3 {
		t.Errorf("a slow subscriber was given %d states (%v), want the newest after the one it was busy with", len(seen), seen)
	}
}

func TestWatcherStartWaitsBoundedly(t *testing.T) {
	w, err := NewWatcher(silentSource{}, Options{StartWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := w.Start(context.Background()); err != nil {
		t.Fatalf("Start without documents: %v, want nil after StartWait", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Start took %v", d)
	}
	if err := w.Start(context.Background()); err == nil {
		t.Error("a second Start succeeded")
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Error(err)
	}

	w, _ = NewWatcher(silentSource{}, Options{StartWait: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Start(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start with an ending context = %v, want DeadlineExceeded", err)
	}
}

// silentSource never produces a snapshot, like an etcd that is down.
type silentSource struct{}

func (silentSource) Watch(ctx context.Context) (<-chan Snapshot, error) {
	ch := make(chan Snapshot)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func TestBind(t *testing.T) {
	type limits struct {
		Rate  float64 `json:"rate"`
		Burst int     `json:"burst"`
	}
	src := NewMemorySource(map[string][]byte{"ratelimit": []byte("rate: 10\nburst: 20\n")})
	w := startWatcher(t, src, Options{})
	got := make(chan limits, 10)
	Bind(w, "ratelimit", DecodeYAML[limits], func(l limits) error {
		if l.Rate < 0 {
			return errors.New("negative rate")
		}
		got <- l
		return nil
	})
	if l := <-got; l != (limits{10, 20}) {
		t.Fatalf("got %+v", l)
	}
	src.Set("ratelimit", []byte("rate: 10\nbrust: 5\n")) // misspelt: refused
	src.Set("other", nil)
	src.Set("ratelimit", []byte(`{"rate": -1}`))
	waitFor(t, func() bool { return testutil.ToFloat64(w.metrics.rejected.WithLabelValues("ratelimit")) >= 1 })
	src.Set("ratelimit", []byte(`{"rate": 5, "burst": 1}`))
	if l := <-got; l != (limits{5, 1}) {
		t.Fatalf("got %+v", l)
	}
	src.Delete("ratelimit") // decoded from nil: the zero value
	if l := <-got; l != (limits{}) {
		t.Fatalf("got %+v after removal", l)
	}
	if n := testutil.ToFloat64(w.metrics.rejected.WithLabelValues("ratelimit")); n < 1 || n > 2 {
		t.Errorf("rejected_total = %v", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(soon)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within", soon)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
