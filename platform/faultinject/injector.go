package faultinject

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/tremolo-dev/tremolo/platform/apierror"
)

// Injector applies the rules in force to the calls a server receives. It
// is safe for concurrent use, and a server without rules pays one atomic
// load per call.
type Injector struct {
	rules   atomic.Pointer[[]compiled]
	float   func() float64
	names   map[string]string
	metrics *Metrics
}

// New returns an Injector without rules.
func New(opts ...Option) *Injector {
	o := options{float: rand.Float64}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return &Injector{float: o.float, names: o.names, metrics: o.metrics}
}

// Set replaces all rules at once: calls that start afterwards see the new
// ones, calls already delayed finish under the old. Invalid rules are
// refused, naming the first bad one, and the rules in force are kept.
// Set(nil) ends every experiment.
func (in *Injector) Set(rules []Rule) error {
	cs := make([]compiled, 0, len(rules))
	for i, r := range rules {
		if err := r.validate(i); err != nil {
			return err
		}
		cs = append(cs, compile(i, r))
	}
	in.rules.Store(&cs)
	return nil
}

// Rules returns a copy of the rules in force.
func (in *Injector) Rules() []Rule {
	p := in.rules.Load()
	if p == nil {
		return nil
	}
	out := make([]Rule, len(*p))
	for i, c := range *p {
		out[i] = c.Rule
	}
	return out
}

// UnaryServerInterceptor injects the faults of the rules matching each
// unary call before its handler runs.
func (in *Injector) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := in.inject(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor injects faults when a stream opens.
func (in *Injector) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := in.inject(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

// inject draws for every matching rule, waits the sum of the delays of the
// rules that fire, and returns the error of the first that aborts.
func (in *Injector) inject(ctx context.Context, fullMethod string) error {
	p := in.rules.Load()
	if p == nil || len(*p) == 0 {
		return nil
	}
	service, name, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	short := in.names[service]
	var (
		delay time.Duration
		abort *compiled
	)
	for i := range *p {
		c := &(*p)[i]
		if !c.matches(fullMethod, service, short, name) || in.float() >= c.Probability {
			continue
		}
		if c.Delay > 0 {
			delay += c.Delay
			in.count(service, short, name, KindDelay)
		}
		if abort == nil && c.Abort != 0 {
			abort = c
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return apierror.Internal(ctx.Err()) // DEADLINE_EXCEEDED or CANCELLED
		}
	}
	if abort == nil {
		return nil
	}
	in.count(service, short, name, KindAbort)
	return apierror.Platform(abort.Abort).Errorf("%s", abort.abortMsg)
}

func (in *Injector) count(service, short, name, kind string) {
	if in.metrics == nil {
		return
	}
	if short != "" {
		service = short
	}
	in.metrics.injected.WithLabelValues(service, name, kind).Inc()
}
