package retry

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count what the retry interceptors of a process do. They are
// registered once and shared by the Retriers of all callees.
//
//	tremolo_retry_attempts_total{service,method}      retries sent (attempts after the first)
//	tremolo_retry_budget_exhausted_total{service}     retries the callee's budget refused
type Metrics struct {
	attempts  *prometheus.CounterVec
	exhausted *prometheus.CounterVec
}

// NewMetrics creates the retry series and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("retry: NewMetrics needs a registerer")
	}
	m := newMetrics()
	for _, c := range []prometheus.Collector{m.attempts, m.exhausted} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("retry: registering metrics: %w", err)
		}
	}
	return m, nil
}

// newMetrics creates unregistered series, which Retriers without
// WithMetrics record into, so the call path never checks for nil.
func newMetrics() *Metrics {
	return &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_retry_attempts_total",
			Help: "Retries sent to a callee's method: attempts after the first.",
		}, []string{"service", "method"}),
		exhausted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_retry_budget_exhausted_total",
			Help: "Retries refused because the callee's retry budget was spent.",
		}, []string{"service"}),
	}
}
