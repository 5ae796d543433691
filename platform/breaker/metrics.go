package breaker

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the series of every breaker in a process, labelled by callee
// (service) and method. They are registered once and shared by the
// Breakers of all callees (WithMetrics), since a registry refuses the same
// metric name twice.
//
//	tremolo_breaker_state{service,method}                 0 closed, 1 half-open, 2 open
//	tremolo_breaker_drops_total{service,method}           calls dropped by an open breaker
//	tremolo_breaker_degraded_total{service,method}        empty answers given instead of an error
//	tremolo_breaker_transitions_total{service,method,to}  state changes, by new state
//
// The move from open to half-open happens when the first call after the
// sleep window arrives (gobreaker decides it lazily), so the gauge may show
// "open" a little longer than the breaker drops calls.
type Metrics struct {
	state       *prometheus.GaugeVec
	drops       *prometheus.CounterVec
	degraded    *prometheus.CounterVec
	transitions *prometheus.CounterVec
}

// NewMetrics creates the breaker series and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("breaker: NewMetrics needs a registerer")
	}
	m := newMetrics()
	for _, c := range []prometheus.Collector{m.state, m.drops, m.degraded, m.transitions} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("breaker: registering metrics: %w", err)
		}
	}
	return m, nil
}

// newMetrics creates unregistered series: Breakers without WithMetrics
// record into them, so the call path never checks for nil.
func newMetrics() *Metrics {
	labels := []string{"service", "method"}
	return &Metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tremolo_breaker_state",
			Help: "State of the circuit breaker of a callee's method: 0 closed, 1 half-open, 2 open.",
		}, labels),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_breaker_drops_total",
			Help: "Calls the circuit breaker refused without sending them to the callee.",
		}, labels),
		degraded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_breaker_degraded_total",
			Help: "Calls of degradable methods answered with an empty response instead of an error.",
		}, labels),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_breaker_transitions_total",
			Help: "State changes of the circuit breaker of a callee's method, by the state entered.",
		}, []string{"service", "method", "to"}),
	}
}

// series are one method's children of the vectors, resolved once so that
// the call path does not hash label values.
type series struct {
	state       prometheus.Gauge
	drops       prometheus.Counter
	degraded    prometheus.Counter
	transitions [3]prometheus.Counter // indexed by State
}

func (m *Metrics) series(service, method string) *series {
	s := &series{
		state:    m.state.WithLabelValues(service, method),
		drops:    m.drops.WithLabelValues(service, method),
		degraded: m.degraded.WithLabelValues(service, method),
	}
	for _, st := range []State{Closed, HalfOpen, Open} {
		s.transitions[st] = m.transitions.WithLabelValues(service, method, st.String())
	}
	return s
}
