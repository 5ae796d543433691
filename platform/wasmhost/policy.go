package wasmhost

import (
	"fmt"
	"net/http"
)

// Policy says what the edge does with a request when a plugin fails on it:
// traps, runs past its budget, breaks the ABI, runs out of memory, cannot
// be instantiated or has no free instance in time.
type Policy int

const (
	// FailClosed refuses the request through the DenyFunc given to Wrap.
	// It is the zero value because a plugin that enforces something (a
	// token check, a rate limit) must not be bypassed by making it fail.
	FailClosed Policy = iota
	// FailOpen skips the plugin: the next handler gets the request as it
	// was before the plugin ran. For plugins that only add something
	// (colouring, routing hints) whose loss is better than an error.
	FailOpen
)

// String returns "fail_closed" or "fail_open".
func (p Policy) String() string {
	switch p {
	case FailClosed:
		return "fail_closed"
	case FailOpen:
		return "fail_open"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// FailureKind classifies a plugin failure. It is the kind label of
// tremolo_wasm_failures_total and the Kind of an *Error.
type FailureKind string

// The kinds of failure. The set is closed, so the metric's labels are
// bounded and every kind's series exists (at zero) from Load on.
const (
	// KindTrap: the guest trapped or exited (a Go panic, unreachable, an
	// out-of-bounds access of its own memory, proc_exit).
	KindTrap FailureKind = "trap"
	// KindTimeout: the call ran past the plugin's Budget.
	KindTimeout FailureKind = "timeout"
	// KindCanceled: the client went away during the call.
	KindCanceled FailureKind = "canceled"
	// KindABI: the guest called the host with arguments the ABI does not
	// allow (a buffer outside its memory, an unknown header kind, an
	// invalid header name, a key it did not register), or returned a result
	// the ABI does not define.
	KindABI FailureKind = "abi"
	// KindMemory: the guest needed more memory than MemoryLimitPages.
	KindMemory FailureKind = "memory"
	// KindInstantiate: a new instance could not be created.
	KindInstantiate FailureKind = "instantiate"
	// KindBusy: every instance of the pool stayed in use for PoolWait.
	KindBusy FailureKind = "busy"
	// KindBody: a body the plugin asked to buffer was larger than
	// MaxBodyBytes, or could not be read from the client.
	KindBody FailureKind = "body"
	// KindClosed: the plugin was closed.
	KindClosed FailureKind = "closed"
)

// failureKinds lists every FailureKind, for creating metric series.
var failureKinds = []FailureKind{KindTrap, KindTimeout, KindCanceled, KindABI, KindMemory, KindInstantiate, KindBusy, KindBody, KindClosed}

// Error is what a DenyFunc receives when a plugin fails. It names the
// plugin and the kind of failure and nothing else: the guest's own words
// (a panic message, its stderr) may hold anything, including what a client
// must not see, so they go to the log and never into an Error.
type Error struct {
	Plugin string
	Kind   FailureKind
}

// Error returns "wasm plugin NAME failed: KIND".
func (e *Error) Error() string {
	return "wasm plugin " + e.Plugin + " failed: " + string(e.Kind)
}

// DenyFunc writes the response for a request that a fail-closed plugin
// failed on. The edge provides it because only the edge knows the app's
// error envelope; the platform does not. err is an *Error.
type DenyFunc func(w http.ResponseWriter, r *http.Request, err error)

// DefaultDeny answers 503 Service Unavailable with a plain-text body: the
// DenyFunc used when Wrap is given nil.
func DefaultDeny(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
}
