// Package faultinject makes a server misbehave on purpose: delay some
// calls, fail others with a chosen code, so that the timeouts, retries,
// circuit breakers and degraded answers of its callers can be seen working
// before a real outage tests them.
//
// Faults are rules, set as a whole and replaced while the server runs
// (Injector.Set), typically from dynamic configuration in this form, YAML
// or JSON:
//
//	faults:
//	  - service: video        # short name, proto name, or "*" / omitted for any
//	    method: GetVideos     # short or full name, or "*" / omitted for any
//	    probability: 0.5      # share of matching calls hit, in (0, 1]; omitted means 1
//	    delay: 200ms          # wait before handling the call
//	    abort: UNAVAILABLE    # then fail it with this gRPC code
//	    message: chaos drill  # the message callers see (optional)
//
// Each matching rule draws once per call; the delays of the rules that
// fire add up, and the first of them with an abort code fails the call
// after the delay. A delay ends early when the caller's context does, and
// the call then fails with DEADLINE_EXCEEDED or CANCELLED, as a slow
// server's would.
//
// Rules for any service ("*") leave gRPC's own services (health checks,
// reflection, channelz) alone: an orchestrator that saw health checks fail would
// restart the replica, which is a different experiment. Name such a
// service to inject faults into it.
package faultinject
