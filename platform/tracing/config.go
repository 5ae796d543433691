package tracing

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
)

// Config chooses whether spans are made, how many are kept, and where they
// go. The zero Config is tracing off; RegisterFlags sets the defaults a
// process runs with.
type Config struct {
	// Enabled makes the interceptors and the middleware create spans, so
	// every request has trace and span ids for its logs and its callees.
	// Off, a process creates none but still forwards the trace context it
	// receives, so one untraced hop does not break a trace (see NewProvider).
	Enabled bool
	// SampleRatio is the share of new traces marked sampled, 0 to 1. A
	// request that arrives with a trace context follows its caller's
	// decision instead (parent-based sampling), so a trace is kept whole or
	// not at all. Unsampled requests still get ids and still propagate.
	SampleRatio float64
	// OTLPEndpoint is the host:port of an OTLP/gRPC collector that sampled
	// spans are sent to. Empty sends them nowhere: ids still exist for logs
	// and for callees, which is the point of tracing without a collector.
	OTLPEndpoint string
	// OTLPInsecure talks to the collector without TLS, as to a collector
	// on the same host or pod. Off, the exporter uses TLS with the system's
	// roots.
	OTLPInsecure bool
}

// RegisterFlags adds the tracing flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Enabled, "tracing", true, "create spans for requests and calls (ids in logs and propagated to callees); off still forwards callers' trace context")
	fs.Float64Var(&c.SampleRatio, "trace-sample", 1, "share of new traces sampled, 0 to 1; requests with a caller's trace context follow the caller's decision")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "host:port of an OTLP/gRPC collector to export sampled spans to; empty exports nothing")
	fs.BoolVar(&c.OTLPInsecure, "otlp-insecure", true, "connect to the OTLP collector without TLS (a collector on the same host or pod)")
}

// Validate reports the first setting that cannot work, naming its flag.
func (c Config) Validate() error {
	if math.IsNaN(c.SampleRatio) || c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("tracing: -trace-sample %v: want a ratio from 0 to 1", c.SampleRatio)
	}
	if c.OTLPEndpoint != "" {
		if err := checkEndpoint(c.OTLPEndpoint); err != nil {
			return fmt.Errorf("tracing: -otlp-endpoint %q: %w", c.OTLPEndpoint, err)
		}
	}
	return nil
}

// checkEndpoint accepts host:port with a non-empty host and a port number:
// the exporter would take a URL or a bare host too, but then dial
// something other than what was meant, and only fail at the first export.
func checkEndpoint(ep string) error {
	if strings.Contains(ep, "://") {
		return errors.New("want host:port, not a URL (e.g. localhost:4317)")
	}
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return errors.New("want host:port (e.g. localhost:4317)")
	}
	if host == "" {
		return errors.New("missing host: want host:port (e.g. localhost:4317)")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("port %q: want a number from 1 to 65535", port)
	}
	return nil
}
