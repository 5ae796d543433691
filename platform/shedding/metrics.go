package shedding

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics show how close a server is to its limit and what it refused.
//
//	tremolo_inflight_requests        requests being handled (health checks left out)
//	tremolo_shed_total{method}       requests refused, by full method name
//
// The gauge is read from the Shedders' own counters when Prometheus
// scrapes, so admitting a request costs no metric update.
type Metrics struct {
	shed *prometheus.CounterVec

	mu       sync.Mutex
	shedders []*Shedder
}

// NewMetrics creates the shedding series and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("shedding: NewMetrics needs a registerer")
	}
	m := &Metrics{
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_shed_total",
			Help: "Requests refused because the server had its limit of requests in flight.",
		}, []string{"method"}),
	}
	inflight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tremolo_inflight_requests",
		Help: "Requests the server is handling now, health checks left out.",
	}, m.inflight)
	for _, c := range []prometheus.Collector{inflight, m.shed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("shedding: registering metrics: %w", err)
		}
	}
	return m, nil
}

// attach adds s to the Shedders the gauge sums.
func (m *Metrics) attach(s *Shedder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shedders = append(m.shedders, s)
}

// inflight sums the requests in flight of the attached Shedders.
func (m *Metrics) inflight() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int
	for _, s := range m.shedders {
		n += s.InFlight()
	}
	return float64(n)
}
