package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Store takes tokens from named buckets.
//
// Take refills the bucket key (rate tokens per second, at most burst tokens;
// a new bucket starts full), then takes cost tokens if it holds that many.
// cost 0 only reads the bucket. The parameters belong to each call rather
// than to the bucket so that a caller may change a limit without a
// migration: the next Take refills at the new rate up to the new burst.
//
// An error means the outcome is unknown (the store is unreachable, the
// context ended); it wraps ErrInvalid when the parameters are not a bucket.
//
// Take does not keep key past the call, nor in the error it returns (a
// store copies the keys it keeps, and an error quotes a copy), so a caller
// may pass a view of a buffer it reuses: the WebAssembly host builds each
// plugin's keys that way, without a string a call.
type Store interface {
	Take(ctx context.Context, key string, rate float64, burst int, cost int) (Result, error)
}

// InProcess reports whether s keeps its buckets in this process (a
// *Memory), so that Take answers at once: a caller need not bound it with
// a deadline of its own, which costs a timer per call.
func InProcess(s Store) bool {
	_, ok := s.(*Memory)
	return ok
}

// Result is the outcome of a Take.
type Result struct {
	// Allowed reports whether the tokens were taken.
	Allowed bool
	// Remaining is the number of whole tokens left in the bucket after the
	// call.
	Remaining int
	// RetryAfter is, when the call was refused, how long until the bucket
	// holds cost tokens; zero when allowed. It is what a Retry-After header
	// says, rounded up by the caller to its unit.
	RetryAfter time.Duration
}

// ErrInvalid is wrapped by the error Take returns for parameters that do
// not describe a bucket: an empty or over-long key, a rate that is not a
// positive finite number, a burst below one, or a cost below zero or above
// burst (which no bucket could ever allow).
var ErrInvalid = errors.New("ratelimit: invalid bucket")

// MaxKeyLen is the longest key a store accepts, in bytes. Keys come from
// plugins (user ids, IP addresses); a bound keeps one misbehaving caller
// from filling memory or Redis with megabyte keys.
const MaxKeyLen = 512

// Validate returns an error wrapping ErrInvalid if the parameters of a Take
// do not describe a bucket. Stores call it first; callers that translate
// foreign input (such as a plugin's import call) can call it to tell a
// caller's mistake from a store's failure.
func Validate(key string, rate float64, burst, cost int) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalid)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: key of %d bytes (at most %d)", ErrInvalid, len(key), MaxKeyLen)
	case !(rate > 0) || math.IsInf(rate, 0):
		return fmt.Errorf("%w: rate %v tokens/s (must be positive and finite)", ErrInvalid, rate)
	case burst < 1:
		return fmt.Errorf("%w: burst %d (must be at least 1)", ErrInvalid, burst)
	case cost < 0 || cost > burst:
		return fmt.Errorf("%w: cost %d (must be between 0 and burst %d)", ErrInvalid, cost, burst)
	}
	return nil
}

// refill is the token arithmetic both stores share (Redis repeats it in
// Lua): the tokens after elapsed at rate, capped at burst, then the outcome
// of taking cost of them.
func refill(tokens float64, elapsed time.Duration, rate float64, burst, cost int) (float64, Result) {
	if elapsed > 0 {
		tokens += elapsed.Seconds() * rate
	}
	if tokens > float64(burst) {
		tokens = float64(burst)
	}
	if tokens >= float64(cost) {
		tokens -= float64(cost)
		return tokens, Result{Allowed: true, Remaining: int(tokens)}
	}
	wait := time.Duration(math.Ceil((float64(cost) - tokens) / rate * float64(time.Second)))
	return tokens, Result{Remaining: int(tokens), RetryAfter: max(wait, time.Nanosecond)}
}
