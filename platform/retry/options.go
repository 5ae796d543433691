package retry

import (
	"fmt"
	"time"
)

// Defaults of the options: backoffs short enough that a retry still fits
// in the deadline of a call between services of one data centre, and
// gRPC's documented retryThrottling example for the budget.
const (
	DefaultBase       = 10 * time.Millisecond
	DefaultMax        = 200 * time.Millisecond
	DefaultMaxTokens  = 10
	DefaultTokenRatio = 0.1
)

// Option configures New.
type Option func(*options)

type options struct {
	base, max  time.Duration
	maxTokens  float64
	tokenRatio float64
	metrics    *Metrics
	err        error
}

func (o *options) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

// WithBackoff sets the backoff before the first retry (base) and the cap
// of every backoff (max). Both must be positive and max at least base.
func WithBackoff(base, max time.Duration) Option {
	return func(o *options) {
		if base <= 0 || max < base {
			o.fail(fmt.Errorf("retry: backoff base %v and max %v: want 0 < base <= max", base, max))
			return
		}
		o.base, o.max = base, max
	}
}

// WithBudget sets the callee's retry bucket: maxTokens in (0, 1000], and
// tokenRatio, the tokens a success gives back, in (0, maxTokens]; the
// bounds are those of gRPC's retryThrottling. Tokens are kept in
// thousandths, so finer ratios are rounded.
func WithBudget(maxTokens, tokenRatio float64) Option {
	return func(o *options) {
		switch {
		case !(maxTokens > 0 && maxTokens <= 1000):
			o.fail(fmt.Errorf("retry: budget max tokens %v is outside (0, 1000]", maxTokens))
		case !(tokenRatio >= 0.001 && tokenRatio <= maxTokens):
			o.fail(fmt.Errorf("retry: budget token ratio %v is outside [0.001, max tokens %v]", tokenRatio, maxTokens))
		default:
			o.maxTokens, o.tokenRatio = maxTokens, tokenRatio
		}
	}
}

// WithMetrics counts retries and refused retries in m, which one process
// shares across callees. Without it nothing is recorded.
func WithMetrics(m *Metrics) Option {
	return func(o *options) {
		if m != nil {
			o.metrics = m
		}
	}
}
