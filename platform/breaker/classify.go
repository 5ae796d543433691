package breaker

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// outcome is what one call says about the callee's health.
type outcome int

const (
	success  outcome = iota // an answer, business errors included
	failure                 // the callee is unhealthy
	excluded                // says nothing about the callee
)

// deadlineSlack is how close to the caller's deadline a DEADLINE_EXCEEDED
// may arrive and still be the caller's: the callee's server runs the
// propagated deadline on its own clock and may give up a moment earlier.
const deadlineSlack = 5 * time.Millisecond

// classify sorts a call's error. budget is the time the caller's context
// had left when the call started (negative when it had no deadline) and
// declared the method's declared timeout.
//
// DEADLINE_EXCEEDED needs care, because a caller's own deadline ending is
// not always the callee's fault:
//
//   - the caller cancelled: excluded;
//   - the caller's context still has time: the callee (or its own callee)
//     gave up on its own timeout: failure;
//   - the caller's deadline ran out: a failure only if the call had at least
//     half of the method's declared timeout. A request that arrives with
//     10ms left of an upstream budget and times out says nothing about a
//     callee that answers in 50ms.
func classify(ctx context.Context, err error, budget, declared time.Duration) outcome {
	if err == nil {
		return success
	}
	if e, ok := apierror.FromError(err); ok && e.FromDependency() {
		// The callee answered: it passed on a failure of its own callee,
		// whose breaker (in the callee) is the one to count it.
		return success
	}
	code, _ := apierror.CodeAndReason(err)
	switch code {
	case codes.Unavailable, codes.ResourceExhausted, codes.Internal, codes.Unknown, codes.DataLoss:
		return failure
	case codes.Canceled:
		return excluded
	case codes.DeadlineExceeded:
		if errors.Is(ctx.Err(), context.Canceled) {
			return excluded
		}
		deadline, ok := ctx.Deadline()
		if !ok || time.Until(deadline) > deadlineSlack {
			return failure
		}
		if declared <= 0 {
			declared = rpc.DefaultTimeout
		}
		if budget >= declared/2 {
			return failure
		}
		return excluded
	}
	return success
}

// Sentinels handed to gobreaker's done callback: its IsSuccessful and
// IsExcluded see these instead of the call's error, so the classification
// above runs once, with the context at hand.
var (
	errFailure  = errors.New("breaker: callee failure")
	errExcluded = errors.New("breaker: outcome excluded")
)

func (o outcome) err() error {
	switch o {
	case failure:
		return errFailure
	case excluded:
		return errExcluded
	}
	return nil
}
