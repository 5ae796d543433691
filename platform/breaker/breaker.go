package breaker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc/codes"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// Breakers are the circuit breakers of one callee, one per method of its
// table. Every method has its own so that one broken method (a slow search
// index) does not cut off the callee's healthy ones. They are safe for
// concurrent use.
type Breakers struct {
	service string
	methods map[string]*method // by full method name; fixed after New
	logger  *slog.Logger

	mu  sync.Mutex // serialises SetSettings and the gauge updates of state changes
	gen atomic.Pointer[generation]
}

// method is what a breaker knows of one method, kept across SetSettings.
type method struct {
	full       string
	name       string // "GetVideos", for labels and messages
	degradable bool
	timeout    time.Duration
	series     *series
}

// generation is one set of breakers built from one Settings; SetSettings
// swaps in a new one.
type generation struct {
	settings Settings
	breakers map[string]*circuit
}

// circuit is one method's breaker in one generation.
type circuit struct {
	m        *method
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	openedAt atomic.Int64 // UnixNano of the last opening, for "retry after"
	sleep    time.Duration
	probes   int
}

// New returns the breakers of callee service ("video", the name its clients
// dial) for the methods of table, all closed, with DefaultSettings. Calls
// of methods not in table pass through unguarded. Use SetSettings for other
// thresholds.
func New(service string, table rpc.Table, opts ...Option) *Breakers {
	o := options{}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.metrics == nil {
		o.metrics = newMetrics()
	}
	b := &Breakers{service: service, methods: make(map[string]*method, len(table)), logger: o.logger}
	for full, m := range table {
		name := m.Name()
		if name == "" {
			name = full
		}
		b.methods[full] = &method{
			full: full, name: name, degradable: m.Degradable, timeout: m.Timeout,
			series: o.metrics.series(service, name),
		}
	}
	b.install(DefaultSettings())
	return b
}

// SetSettings replaces the thresholds of every breaker of the callee. The
// breakers are re-created, closed and with empty counts: an operator who
// loosens the thresholds of an open breaker wants traffic to flow again.
// Invalid settings are refused and the current breakers kept.
func (b *Breakers) SetSettings(s Settings) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%w (callee %s)", err, b.service)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.install(s)
	return nil
}

// Settings returns the thresholds in force.
func (b *Breakers) Settings() Settings { return b.gen.Load().settings }

// State returns the state of the breaker of a full method name
// ("/douyin.video.v1.VideoService/GetVideos"); ok is false for a method
// not in the table.
func (b *Breakers) State(fullMethod string) (s State, ok bool) {
	c := b.gen.Load().breakers[fullMethod]
	if c == nil {
		return Closed, false
	}
	return fromGobreaker(c.cb.State()), true
}

func (b *Breakers) install(s Settings) {
	g := &generation{settings: s, breakers: make(map[string]*circuit, len(b.methods))}
	for full, m := range b.methods {
		c := &circuit{m: m, sleep: s.SleepWindow, probes: s.HalfOpenProbes}
		c.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:         full,
			MaxRequests:  uint32(s.HalfOpenProbes),
			Interval:     s.Window,
			BucketPeriod: s.Window / 10,
			Timeout:      s.SleepWindow,
			ReadyToTrip:  readyToTrip(s.FailureRatio, uint32(s.MinRequests)),
			IsSuccessful: func(err error) bool { return err != errFailure },
			IsExcluded:   func(err error) bool { return err == errExcluded },
			OnStateChange: func(_ string, from, to gobreaker.State) {
				b.changed(g, c, fromGobreaker(from), fromGobreaker(to))
			},
		})
		g.breakers[full] = c
	}
	b.gen.Store(g)
	for _, m := range b.methods {
		m.series.state.Set(float64(Closed))
	}
}

// readyToTrip opens the breaker once enough calls have finished in the
// window and the failures' share reaches ratio. Calls in flight and
// excluded outcomes are left out of both sides of the ratio.
func readyToTrip(ratio float64, min uint32) func(gobreaker.Counts) bool {
	return func(c gobreaker.Counts) bool {
		done := c.TotalSuccesses + c.TotalFailures
		return done >= min && float64(c.TotalFailures) >= ratio*float64(done)
	}
}

// changed records a state change. gobreaker calls it with its lock held,
// so it must not call back into the breaker. A breaker of a replaced
// generation (a call that was in flight across SetSettings) records
// nothing; b.mu keeps such a late change from overwriting the gauge that
// SetSettings has just reset.
func (b *Breakers) changed(g *generation, c *circuit, from, to State) {
	if to == Open {
		c.openedAt.Store(time.Now().UnixNano())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen.Load() != g {
		return
	}
	c.m.series.state.Set(float64(to))
	c.m.series.transitions[to].Inc()
	if b.logger != nil {
		level := slog.LevelInfo
		if to == Open {
			level = slog.LevelWarn
		}
		b.logger.LogAttrs(context.Background(), level, "circuit breaker state changed",
			slog.String("callee", b.service), slog.String("rpc.method", c.m.full),
			slog.String("from", from.String()), slog.String("to", to.String()))
	}
}

// dropped is the error of a call the breaker refused: UNAVAILABLE, built
// like every platform error, saying when trying again makes sense.
func (b *Breakers) dropped(c *circuit, err error) *apierror.Error {
	// A refusal to call a dependency: this process's callers must not hold
	// it against this process (PassedOn).
	spec := apierror.Platform(codes.Unavailable)
	if err == gobreaker.ErrTooManyRequests {
		return spec.Errorf("circuit breaker for %s/%s is half-open and its %d probe calls are in flight; retry shortly",
			b.service, c.m.name, c.probes).PassedOn()
	}
	wait := time.Until(time.Unix(0, c.openedAt.Load()).Add(c.sleep)).Round(time.Millisecond)
	if wait < time.Millisecond {
		wait = time.Millisecond
	}
	return spec.Errorf("circuit breaker for %s/%s is open; retry after %v", b.service, c.m.name, wait).PassedOn()
}
