package faultinject

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tremolo-dev/tremolo/platform/apierror"
)

// Rule is one fault: which calls it applies to, how often, and what it
// does to them.
type Rule struct {
	// Service is the short name ("video") or proto name
	// ("douyin.video.v1.VideoService") of the service; "" or "*" matches
	// any but gRPC's own services.
	Service string
	// Method is the method's short name ("GetVideos") or full name
	// ("/douyin.video.v1.VideoService/GetVideos"); "" or "*" matches any.
	Method string
	// Probability is the share of matching calls the rule hits, in (0, 1].
	Probability float64
	// Delay is how long a hit call waits before it is handled (0 for none).
	Delay time.Duration
	// Abort fails a hit call with this code after the delay; codes.OK (0)
	// for none.
	Abort codes.Code
	// Message is what callers of an aborted call read; empty for one that
	// names the rule.
	Message string
}

// validate reports what is wrong with the rule at index i, naming the
// field as the configuration file spells it.
func (r Rule) validate(i int) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("faultinject: faults[%d].%s: %s", i, field, fmt.Sprintf(format, args...))
	}
	switch {
	case !(r.Probability > 0 && r.Probability <= 1): // also refuses NaN
		return bad("probability", "%v is outside (0, 1]", r.Probability)
	case r.Delay < 0:
		return bad("delay", "%v is negative", r.Delay)
	case r.Abort > codes.Unauthenticated:
		return bad("abort", "%d is not a gRPC code", uint32(r.Abort))
	case r.Delay == 0 && r.Abort == codes.OK:
		return fmt.Errorf("faultinject: faults[%d]: the rule does nothing: set a delay, an abort code or both", i)
	case r.Message != "" && r.Abort == codes.OK:
		return bad("message", "is only sent with an abort code")
	case strings.Contains(r.Service, "/"):
		return bad("service", "%q has a slash: name the service, and put methods in method", r.Service)
	}
	return nil
}

// codeNames maps upper-case gRPC code names, with and without underscores
// ("DEADLINE_EXCEEDED", "DEADLINEEXCEEDED"), to codes; both spellings of
// CANCELLED are there.
var codeNames = func() map[string]codes.Code {
	m := map[string]codes.Code{}
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		for _, name := range []string{apierror.Platform(c).Reason, strings.ToUpper(c.String())} {
			m[name] = c
			m[strings.ReplaceAll(name, "_", "")] = c
		}
	}
	return m
}()

// codeByName returns the code a rule's abort names, case-insensitively.
func codeByName(name string) (codes.Code, bool) {
	c, ok := codeNames[strings.ToUpper(name)]
	return c, ok
}

// compiled is a validated rule ready to match calls.
type compiled struct {
	Rule
	index      int
	anyService bool
	anyMethod  bool
	fullMethod bool // Method is "/service/method"
	abortMsg   string
}

func compile(i int, r Rule) compiled {
	c := compiled{
		Rule:       r,
		index:      i,
		anyService: r.Service == "" || r.Service == "*",
		anyMethod:  r.Method == "" || r.Method == "*",
		fullMethod: strings.HasPrefix(r.Method, "/"),
		abortMsg:   r.Message,
	}
	if c.abortMsg == "" {
		c.abortMsg = fmt.Sprintf("fault injected by rule %d", i)
	}
	return c
}

// matches reports whether the rule applies to a call of fullMethod, whose
// proto service is service, known by short (or "") and named name.
func (c *compiled) matches(fullMethod, service, short, name string) bool {
	switch {
	case c.anyService:
		if infrastructure(service) {
			return false
		}
	case c.Service != service && c.Service != short:
		return false
	}
	switch {
	case c.anyMethod:
		return true
	case c.fullMethod:
		return c.Method == fullMethod
	}
	return c.Method == name
}

// infrastructure reports gRPC's own services, which rules for any service
// leave alone: health checks, reflection, channelz.
func infrastructure(service string) bool {
	return strings.HasPrefix(service, "grpc.health.") ||
		strings.HasPrefix(service, "grpc.reflection.") ||
		strings.HasPrefix(service, "grpc.channelz.")
}
