package breaker

import "github.com/sony/gobreaker/v2"

// State is a breaker's state. Its numeric values are those of the
// tremolo_breaker_state gauge, so dashboards and code agree.
type State int

const (
	// Closed lets every call through and counts outcomes.
	Closed State = 0
	// HalfOpen lets a few probe calls through to test the callee.
	HalfOpen State = 1
	// Open drops every call.
	Open State = 2
)

// String returns "closed", "half-open" or "open", the values of the
// transitions counter's "to" label.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "unknown"
}

func fromGobreaker(s gobreaker.State) State {
	switch s {
	case gobreaker.StateHalfOpen:
		return HalfOpen
	case gobreaker.StateOpen:
		return Open
	}
	return Closed
}
