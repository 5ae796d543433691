package retry

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// Retrier retries the calls of one callee and holds its retry budget, so
// that every method of the callee draws on the same bucket: a callee that
// is down is down for all of them. It is safe for concurrent use.
type Retrier struct {
	service   string
	methods   map[string]method
	budget    *budget
	base, max time.Duration
	exhausted prometheus.Counter
	// jitter returns a random duration in [0, n]; tests replace it.
	jitter func(n time.Duration) time.Duration
}

// method is what the interceptor needs of one retryable method.
type method struct {
	attempts int
	retries  prometheus.Counter
}

// New returns the Retrier of callee service ("video") for the methods of
// table. Only its idempotent methods are retried; every method's outcomes
// feed the budget. It fails when an option is out of range.
func New(service string, table rpc.Table, opts ...Option) (*Retrier, error) {
	o := options{base: DefaultBase, max: DefaultMax, maxTokens: DefaultMaxTokens, tokenRatio: DefaultTokenRatio}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.err != nil {
		return nil, o.err
	}
	if o.metrics == nil {
		o.metrics = newMetrics()
	}
	r := &Retrier{
		service:   service,
		methods:   make(map[string]method, len(table)),
		budget:    newBudget(o.maxTokens, o.tokenRatio),
		base:      o.base,
		max:       o.max,
		exhausted: o.metrics.exhausted.WithLabelValues(service),
		jitter:    func(n time.Duration) time.Duration { return rand.N(n + 1) },
	}
	for full, m := range table {
		if m.Attempts() > 1 {
			r.methods[full] = method{attempts: m.Attempts(), retries: o.metrics.attempts.WithLabelValues(service, m.Name())}
		}
	}
	return r, nil
}

// UnaryClientInterceptor retries the callee's unary calls as the package
// describes. When it gives up it returns the last attempt's error, so the
// caller sees what the callee said.
func (r *Retrier) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, fullMethod string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		m, retryable := r.methods[fullMethod]
		for attempt := 1; ; attempt++ {
			start := time.Now()
			err := invoker(ctx, fullMethod, req, reply, cc, opts...)
			if err == nil {
				r.budget.success()
				return nil
			}
			if code, _ := apierror.CodeAndReason(err); code != codes.Unavailable || ctx.Err() != nil {
				return err
			}
			if e, ok := apierror.FromError(err); ok && e.FromDependency() {
				// The callee relayed its own callee's failure, after its
				// own client's retries: retrying here would multiply them.
				r.budget.success() // the callee itself answered
				return err
			}
			allowed := r.budget.failure()
			if !retryable || attempt >= m.attempts {
				return err
			}
			if !allowed {
				r.exhausted.Inc()
				return err
			}
			wait := r.backoff(attempt)
			if d, ok := ctx.Deadline(); ok && time.Until(d) < wait+time.Since(start) {
				return err // the next attempt could not finish in time
			}
			if err := sleep(ctx, wait); err != nil {
				return apierror.Internal(err) // DEADLINE_EXCEEDED or CANCELLED
			}
			m.retries.Inc()
		}
	}
}

// backoff returns the wait before retry n (1 for the first retry): full
// jitter under min(base·2ⁿ⁻¹, max).
func (r *Retrier) backoff(n int) time.Duration {
	ceiling := r.base
	for i := 1; i < n && ceiling < r.max; i++ {
		if ceiling > r.max/2 {
			ceiling = r.max
			break
		}
		ceiling *= 2
	}
	return r.jitter(min(ceiling, r.max))
}

// sleep waits d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
