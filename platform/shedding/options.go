package shedding

// Option configures New.
type Option func(*options)

type options struct {
	metrics *Metrics
}

// WithMetrics records the requests in flight and the ones refused in m.
// Without it nothing is recorded.
func WithMetrics(m *Metrics) Option {
	return func(o *options) {
		if m != nil {
			o.metrics = m
		}
	}
}
