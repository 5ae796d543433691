package dynconfig

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// watcherMetrics are a Watcher's series, labelled by document name. The
// names are those subscribed to, fixed by the program's code, so the label
// is bounded.
type watcherMetrics struct {
	applied     *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	lastApplied *prometheus.GaugeVec
}

func newWatcherMetrics(reg prometheus.Registerer) (*watcherMetrics, error) {
	m := &watcherMetrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_dynconfig_applied_total",
			Help: "Changes of a configuration document that a subscriber applied (including removals and the first value).",
		}, []string{"name"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_dynconfig_rejected_total",
			Help: "Changes of a configuration document that a subscriber refused; it kept its previous configuration.",
		}, []string{"name"}),
		lastApplied: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tremolo_dynconfig_last_applied_timestamp_seconds",
			Help: "When a subscriber last applied a change of the configuration document (Unix time); 0 if never.",
		}, []string{"name"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.applied, m.rejected, m.lastApplied} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("dynconfig: metrics: %w", err)
			}
		}
	}
	return m, nil
}

// touch creates a name's series at zero, so that a dashboard or alert sees
// every subscribed document before its first change.
func (m *watcherMetrics) touch(name string) {
	m.applied.WithLabelValues(name)
	m.rejected.WithLabelValues(name)
	m.lastApplied.WithLabelValues(name)
}
