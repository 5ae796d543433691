package idlease

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics tell operators which node id a process holds and how often it
// had to stop issuing ids: each loss is a stretch of failed requests.
type metrics struct {
	node prometheus.Gauge
	lost prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		node: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tremolo_idlease_node",
			Help: "The snowflake node id this process holds, -1 while it holds none (and issues no ids).",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tremolo_idlease_lost_total",
			Help: "Times this process stopped issuing ids because its node id's lease could no longer be vouched for.",
		}),
	}
	m.node.Set(-1)
	if reg != nil {
		for _, c := range []prometheus.Collector{m.node, m.lost} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("idlease: metrics: %w", err)
			}
		}
	}
	return m, nil
}
