package breaker

import "log/slog"

// Option configures New. Thresholds are not options: they change at run
// time, through Breakers.SetSettings, which can refuse bad values.
type Option func(*options)

type options struct {
	metrics *Metrics
	logger  *slog.Logger
}

// WithMetrics records the breakers' states, drops and degraded answers in
// m. One Metrics serves every callee of a process; without this option
// nothing is recorded.
func WithMetrics(m *Metrics) Option {
	return func(o *options) {
		if m != nil {
			o.metrics = m
		}
	}
}

// WithLogger logs every state change (opening at WARN, the others at INFO),
// since an opening breaker is an incident someone will want to date.
// Without this option, or with nil, nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}
