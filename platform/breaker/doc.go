// Package breaker keeps one circuit breaker per method of a callee, so a
// service that has stopped answering is given room to recover instead of
// being sent every request its callers receive.
//
// A breaker counts the outcomes of the calls it lets through over a rolling
// window. When at least Settings.MinRequests calls have finished in the
// window and the share of failures reaches Settings.FailureRatio, it opens:
// calls are dropped at once with UNAVAILABLE ("circuit breaker for
// video/GetVideos is open; retry after 4.2s") without reaching the callee.
// After Settings.SleepWindow it lets Settings.HalfOpenProbes calls through;
// when they all succeed it closes, and the first failure opens it again.
// The state machine is github.com/sony/gobreaker/v2's.
//
// Only failures that say the callee is unhealthy count against it:
// UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN, DATA_LOSS, and
// DEADLINE_EXCEEDED when the callee had a fair chance: it gave up on its
// own timeout, or the caller's deadline ran out on a call that had at least
// half of the method's declared timeout. Business errors (NOT_FOUND,
// INVALID_ARGUMENT, ...) are answers, and count as successes; a call that
// the caller cancelled, or that started with too little time left to be
// fair, counts neither way.
//
// Methods declared Degradable (rpc.Method.Degradable) answer a dropped or
// failed call with an empty response and no error: the caller shows a page
// without the viewer's favorite flags rather than no page at all.
//
// Breakers are interceptors, not a balancer or a stats handler, because
// calls between services of one process go over an in-process channel
// (grpchan) as well as over gRPC connections. Install the client
// interceptor once per callee, outside the retry interceptor, so that one
// logical call is one outcome and a dropped call is never retried:
//
//	timeout → breaker → retry → apierror → network
package breaker
