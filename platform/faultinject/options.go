package faultinject

import (
	"math/rand/v2"
	"sync"
)

// Option configures New.
type Option func(*options)

type options struct {
	float   func() float64
	names   map[string]string
	metrics *Metrics
}

// WithRand draws from r instead of the global source, so that a test can
// know in advance which calls a probability will hit. The Injector
// serialises its use of r.
func WithRand(r *rand.Rand) Option {
	return func(o *options) {
		if r == nil {
			return
		}
		var mu sync.Mutex
		o.float = func() float64 {
			mu.Lock()
			defer mu.Unlock()
			return r.Float64()
		}
	}
}

// WithServiceNames maps proto service names ("douyin.video.v1.VideoService")
// to the short names the platform knows services by ("video"), so rules
// and metric labels can use the short ones. Later calls add to the map.
func WithServiceNames(names map[string]string) Option {
	return func(o *options) {
		if o.names == nil {
			o.names = make(map[string]string, len(names))
		}
		for full, short := range names {
			o.names[full] = short
		}
	}
}

// WithMetrics counts injected faults in m. Without it nothing is recorded.
func WithMetrics(m *Metrics) Option {
	return func(o *options) {
		if m != nil {
			o.metrics = m
		}
	}
}
