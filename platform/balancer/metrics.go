package balancer

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// The policy's series. They are package-level because gRPC builds
// balancers from a global registry (balancer.Register), not from the
// application's graph; Metrics exposes them in a registry.
var (
	picksTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tremolo_balancer_picks_total",
		Help: "Calls the tremolo balancer placed, by target service and subset: gray (the instances of the version the call asked for), stable, or fallback (no stable instance was READY, any READY one was used).",
	}, []string{"service", "subset"})
	failoversTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tremolo_balancer_cell_failovers_total",
		Help: "Calls the tremolo balancer sent to another cell than the caller's, which had no READY instance, by target service, the caller's cell (from; \"other\" for a cell no instance is registered in) and the serving cell (to).",
	}, []string{"service", "from", "to"})
)

// The subset label's values.
const (
	subsetGray     = "gray"
	subsetStable   = "stable"
	subsetFallback = "fallback"
)

// otherCell is the from label of a failover from a cell that no registered
// instance belongs to: the label stays bounded by the registry's cells
// whatever cell id a caller sends.
const otherCell = "other"

// Metrics registers the policy's series in reg. Every ClientConn using the
// policy counts into them, whether or not they are registered; register
// them once per registry (registering again in the same one is a no-op).
func Metrics(reg prometheus.Registerer) error {
	if reg == nil {
		return errors.New("balancer: registering metrics: nil prometheus.Registerer")
	}
	for _, c := range []prometheus.Collector{picksTotal, failoversTotal} {
		if err := reg.Register(c); err != nil {
			var dup prometheus.AlreadyRegisteredError
			if errors.As(err, &dup) && dup.ExistingCollector == c {
				continue
			}
			return fmt.Errorf("balancer: registering metrics: %w", err)
		}
	}
	return nil
}

// serviceMetrics are one ClientConn's series, resolved once so that a pick
// only increments.
type serviceMetrics struct {
	service                string
	gray, stable, fallback prometheus.Counter
}

func newServiceMetrics(service string) *serviceMetrics {
	return &serviceMetrics{
		service:  service,
		gray:     picksTotal.WithLabelValues(service, subsetGray),
		stable:   picksTotal.WithLabelValues(service, subsetStable),
		fallback: picksTotal.WithLabelValues(service, subsetFallback),
	}
}

func (m *serviceMetrics) failover(from, to string) prometheus.Counter {
	return failoversTotal.WithLabelValues(m.service, from, to)
}
