// Package retry tries idempotent calls again when the callee was
// unavailable, within a budget that keeps a callee that is down from
// receiving its callers' load several times over.
//
// A call is retried only when all of these hold:
//
//   - its method is idempotent (rpc.Method.Idempotent), and has attempts
//     left (rpc.Method.Attempts, the first call included);
//   - it failed with UNAVAILABLE: the callee could not be reached or is
//     shutting down, so another attempt, likely on another replica, may
//     succeed;
//   - the caller's context has not ended, and what is left of its deadline
//     after the backoff is at least as long as the failed attempt took: an
//     attempt that cannot finish only adds load;
//   - the callee's retry budget allows it.
//
// RESOURCE_EXHAUSTED is not retried: it is the callee (or a rate limit)
// saying it has too much work, and an immediate retry adds to exactly that
// load; the breaker counts it instead. DEADLINE_EXCEEDED is never retried:
// either the caller's own time is up or the callee used all of it, and
// another attempt has less.
//
// The budget works as gRPC's retryThrottling: a callee's bucket holds up to
// MaxTokens (default 10); every UNAVAILABLE takes one token, every success
// gives back TokenRatio (default 0.1), and retries are allowed only while
// more than half the bucket is left. While a callee fails everything, at
// most a handful of retries are sent; while it mostly succeeds, the bucket
// stays full.
//
// Backoff between attempts is exponential with full jitter, as in gRPC:
// the n-th retry waits a random time in [0, min(Base·2ⁿ⁻¹, Max)], 10ms and
// 200ms by default.
//
// Retry is a client interceptor rather than gRPC's own retry policy because
// calls between services of one process go over an in-process channel
// (grpchan), which has no service config. Install it once per callee,
// inside the circuit breaker, so that a dropped call is never retried and
// the breaker sees one outcome per logical call:
//
//	timeout → breaker → retry → apierror → network
//
// Streams are not retried: an interceptor cannot replay what was already
// sent on them.
package retry
