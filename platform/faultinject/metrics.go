package faultinject

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Kinds of injected faults, the values of the "kind" label.
const (
	KindDelay = "delay"
	KindAbort = "abort"
)

// Metrics count injected faults, so that a dashboard tells an experiment
// from an outage.
//
//	tremolo_faults_injected_total{service,method,kind}   kind is "delay" or "abort"
type Metrics struct {
	injected *prometheus.CounterVec
}

// NewMetrics creates the fault series and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("faultinject: NewMetrics needs a registerer")
	}
	m := &Metrics{injected: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tremolo_faults_injected_total",
		Help: "Faults injected into calls by fault-injection rules, by kind (delay or abort).",
	}, []string{"service", "method", "kind"})}
	if err := reg.Register(m.injected); err != nil {
		return nil, fmt.Errorf("faultinject: registering metrics: %w", err)
	}
	return m, nil
}
