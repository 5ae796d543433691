package shedding

import "context"

// Option configures New.
type Option func(*options)

type options struct {
	metrics *Metrics
	exempt  func(context.Context) bool
}

// WithExempt leaves the calls for which exempt returns true alone: neither
// counted nor refused. A process whose services call each other in-process
// exempts those calls (server.InProcess): a request already admitted holds
// its slot while its own inner calls run, so counting them would refuse
// the inner calls of admitted requests near the limit — every request
// failing halfway instead of a few refused at the door.
func WithExempt(exempt func(context.Context) bool) Option {
	return func(o *options) { o.exempt = exempt }
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
