package breaker

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// UnaryClientInterceptor guards the callee's unary calls: it drops calls
// while a method's breaker is open, reports every outcome to it, and
// answers degradable methods with an empty response instead of an error.
func (b *Breakers) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, fullMethod string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		c := b.gen.Load().breakers[fullMethod]
		if c == nil {
			return invoker(ctx, fullMethod, req, reply, cc, opts...)
		}
		done, refused := c.cb.Allow()
		if refused != nil {
			c.m.series.drops.Inc()
			if c.m.degradable && degrade(reply) {
				c.m.series.degraded.Inc()
				return nil
			}
			return b.dropped(c, refused)
		}
		budget := remaining(ctx)
		reported := false
		defer func() {
			if !reported { // the invoker panicked: free the probe slot, as a failure
				done(errFailure)
			}
		}()
		err := invoker(ctx, fullMethod, req, reply, cc, opts...)
		out := classify(ctx, err, budget, c.m.timeout)
		done(out.err())
		reported = true
		if out == failure && c.m.degradable && degrade(reply) {
			c.m.series.degraded.Inc()
			return nil
		}
		return err
	}
}

// StreamClientInterceptor guards the callee's streaming calls. Only opening
// the stream counts: what happens later on a long-lived stream says little
// about the callee's health now, and a breaker cannot take back messages
// already delivered. Streams are never degraded.
func (b *Breakers) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, fullMethod string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		c := b.gen.Load().breakers[fullMethod]
		if c == nil {
			return streamer(ctx, desc, cc, fullMethod, opts...)
		}
		done, refused := c.cb.Allow()
		if refused != nil {
			c.m.series.drops.Inc()
			return nil, b.dropped(c, refused)
		}
		budget := remaining(ctx)
		reported := false
		defer func() {
			if !reported { // the streamer panicked: free the probe slot, as a failure
				done(errFailure)
			}
		}()
		cs, err := streamer(ctx, desc, cc, fullMethod, opts...)
		done(classify(ctx, err, budget, c.m.timeout).err())
		reported = true
		return cs, err
	}
}

// remaining is the time ctx has left, or -1 without a deadline.
func remaining(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return -1
}

// degrade empties reply, reporting whether it could: only a protobuf
// message can be reset to the empty response a caller can show.
func degrade(reply any) bool {
	m, ok := reply.(proto.Message)
	if !ok || m == nil || !m.ProtoReflect().IsValid() { // IsValid is false for a nil pointer
		return false
	}
	proto.Reset(m)
	return true
}
