package apierror

import (
	"maps"
	"strings"
)

// Error is an error of a known Spec, with a message for the caller, optional
// metadata (sent in ErrorInfo) and an optional cause that stays on the server.
//
// Errors are values: the With* methods return copies, so a shared *Error is
// never modified.
type Error struct {
	spec     *Spec
	message  string
	metadata map[string]string
	cause    error
	// passedOn marks an error this process did not originate: received
	// from a callee, or a refusal to call one (an open breaker). Returned
	// to this process's own caller it carries OriginKey, so that the
	// caller does not hold it against this process.
	passedOn bool
}

// OriginKey is the ErrorInfo metadata key saying where a failure arose:
// OriginDependency when the process that answered did not originate it but
// passed on a failure of its own callee (or its breaker's refusal to call
// one). Breakers and retries act only on failures the callee originated:
// a feed that relays video's UNAVAILABLE is not itself unavailable, and
// retrying the feed would retry what the feed's own client already did.
const (
	OriginKey        = "origin"
	OriginDependency = "dependency"
)

// FromDependency reports whether the process that answered passed the
// error on from one of its own callees rather than originating it.
func (e *Error) FromDependency() bool { return e.metadata[OriginKey] == OriginDependency }

// PassedOn returns a copy of e marked as not originated by this process:
// received from a callee, or a refusal to call one. Returned to this
// process's caller, it says so (OriginKey).
func (e *Error) PassedOn() *Error {
	c := *e
	c.passedOn = true
	return &c
}

// Spec returns the error's spec.
func (e *Error) Spec() *Spec { return e.spec }

// Message returns the message the caller sees.
func (e *Error) Message() string { return e.message }

// Metadata returns the error's metadata (not including the business code the
// wire form adds). The map must not be modified.
func (e *Error) Metadata() map[string]string { return e.metadata }

// Error returns "domain/REASON: message", followed by the cause when there is
// one. It is meant for logs: callers see only Message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.spec.String())
	b.WriteString(": ")
	b.WriteString(e.message)
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// Unwrap returns the cause, so errors.Is and errors.As see through an *Error.
func (e *Error) Unwrap() error { return e.cause }

// Is makes errors.Is(err, spec.Err()) true for any error of the same spec.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.spec.Domain == e.spec.Domain && t.spec.Reason == e.spec.Reason
}

// WithCause returns a copy of e that records the underlying error. The cause
// is logged by the server and never sent to the caller.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// WithMetadata returns a copy of e with key=value added to the metadata sent
// in ErrorInfo (keys in lowerCamelCase, as AIP-193 asks).
func (e *Error) WithMetadata(key, value string) *Error {
	c := *e
	c.metadata = maps.Clone(e.metadata)
	if c.metadata == nil {
		c.metadata = make(map[string]string, 1)
	}
	c.metadata[key] = value
	return &c
}

// WithMessage returns a copy of e with another message for the caller.
func (e *Error) WithMessage(message string) *Error {
	c := *e
	c.message = message
	return &c
}
