package breaker

import (
	"fmt"
	"math"
	"time"
)

// Settings are the thresholds of every breaker of a callee. They can change
// while the process runs (Breakers.SetSettings), so that an operator can
// loosen a breaker that trips on a known-noisy callee without a deploy.
type Settings struct {
	// FailureRatio is the share of failed calls in the window, in (0, 1],
	// at or above which the breaker opens.
	FailureRatio float64
	// MinRequests is how many calls must have finished in the window
	// before the ratio is trusted: two failures out of three calls at
	// night are not an outage.
	MinRequests int
	// Window is the period the counts cover. It rolls in tenths, so
	// old failures fade out instead of vanishing all at once.
	Window time.Duration
	// SleepWindow is how long an open breaker drops calls before it lets
	// probes through.
	SleepWindow time.Duration
	// HalfOpenProbes is how many calls a half-open breaker lets through;
	// when all of them succeed it closes.
	HalfOpenProbes int
}

// DefaultSettings returns the thresholds breakers start with: open at 50%
// failures over at least 20 calls in 10s, probe after 5s with 5 calls.
func DefaultSettings() Settings {
	return Settings{
		FailureRatio:   0.5,
		MinRequests:    20,
		Window:         10 * time.Second,
		SleepWindow:    5 * time.Second,
		HalfOpenProbes: 5,
	}
}

// Validate reports the first setting that is out of range. Settings come
// from dynamic configuration, so a typo must be refused with a message
// that names it rather than produce a breaker that never (or always) trips.
func (s Settings) Validate() error {
	switch {
	case !(s.FailureRatio > 0 && s.FailureRatio <= 1): // also refuses NaN
		return fmt.Errorf("breaker: failure ratio %v is outside (0, 1]", s.FailureRatio)
	case s.MinRequests < 1 || int64(s.MinRequests) > math.MaxUint32:
		return fmt.Errorf("breaker: minimum requests %d is outside [1, %d]", s.MinRequests, uint32(math.MaxUint32))
	case s.Window <= 0:
		return fmt.Errorf("breaker: window %v is not positive", s.Window)
	case s.SleepWindow <= 0:
		return fmt.Errorf("breaker: sleep window %v is not positive", s.SleepWindow)
	case s.HalfOpenProbes < 1 || int64(s.HalfOpenProbes) > math.MaxUint32:
		return fmt.Errorf("breaker: half-open probes %d is outside [1, %d]", s.HalfOpenProbes, uint32(math.MaxUint32))
	}
	return nil
}
