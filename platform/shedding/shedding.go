package shedding

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/tremolo-dev/tremolo/platform/apierror"
)

// healthPrefix starts the methods of the standard health service, which
// are never refused.
const healthPrefix = "/grpc.health.v1.Health/"

// Shedder counts a server's requests in flight and refuses those beyond its
// limit. It is safe for concurrent use; the request path takes no lock.
type Shedder struct {
	limit    atomic.Int64
	inflight atomic.Int64
	metrics  *Metrics
	exempt   func(context.Context) bool
}

// New returns a Shedder that lets at most limit requests run at once; 0
// means no limit. A negative limit, which SetLimit refuses, is taken as 0
// so that New never fails.
func New(limit int, opts ...Option) *Shedder {
	o := options{}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	s := &Shedder{metrics: o.metrics, exempt: o.exempt}
	s.limit.Store(int64(max(limit, 0)))
	if s.metrics != nil {
		s.metrics.attach(s)
	}
	return s
}

// SetLimit changes the limit at once; requests already running finish.
// 0 means no limit; a negative limit is refused.
func (s *Shedder) SetLimit(limit int) error {
	if limit < 0 {
		return fmt.Errorf("shedding: limit %d is negative (0 means no limit)", limit)
	}
	s.limit.Store(int64(limit))
	return nil
}

// Limit returns the limit in force, 0 for none.
func (s *Shedder) Limit() int { return int(s.limit.Load()) }

// InFlight returns how many requests are running now, health checks left
// out.
func (s *Shedder) InFlight() int { return int(s.inflight.Load()) }

// acquire takes a slot for a request, or returns the error to answer it
// with. release must be called once when an acquired request ends.
func (s *Shedder) acquire(fullMethod string) error {
	// A compare-and-swap rather than add-then-undo: a refused request must
	// not occupy a slot even for a moment, or a request arriving alongside
	// it could be refused below the limit.
	for {
		n := s.inflight.Load()
		limit := s.limit.Load()
		if limit > 0 && n >= limit {
			if s.metrics != nil {
				s.metrics.shed.WithLabelValues(fullMethod).Inc()
			}
			return apierror.Platform(codes.ResourceExhausted).Errorf(
				"the server is overloaded: it has its limit of %d requests in flight; retry later", limit)
		}
		if s.inflight.CompareAndSwap(n, n+1) {
			return nil
		}
	}
}

func (s *Shedder) release() { s.inflight.Add(-1) }

// UnaryServerInterceptor refuses unary calls beyond the limit.
func (s *Shedder) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if strings.HasPrefix(info.FullMethod, healthPrefix) || s.exempt != nil && s.exempt(ctx) {
			return handler(ctx, req)
		}
		if err := s.acquire(info.FullMethod); err != nil {
			return nil, err
		}
		defer s.release()
		return handler(ctx, req)
	}
}

// StreamServerInterceptor refuses streams beyond the limit. A stream holds
// its slot until it ends.
func (s *Shedder) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if strings.HasPrefix(info.FullMethod, healthPrefix) || s.exempt != nil && s.exempt(ss.Context()) {
			return handler(srv, ss)
		}
		if err := s.acquire(info.FullMethod); err != nil {
			return err
		}
		defer s.release()
		return handler(srv, ss)
	}
}
