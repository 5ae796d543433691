package server

import (
	"flag"
	"time"
)

// Config holds the servers' addresses and shutdown budget.
type Config struct {
	// GRPCAddr is the gRPC listen address.
	GRPCAddr string
	// HTTPAddr is the HTTP listen address (REST, health, metrics).
	HTTPAddr string
	// ShutdownTimeout bounds a graceful stop; in-flight RPCs still running
	// after it are cancelled.
	ShutdownTimeout time.Duration
	// DrainDelay is how long Stop keeps serving after reporting not-ready,
	// so that load balancers polling /readyz stop sending new requests first.
	DrainDelay time.Duration
	// MaxBodyBytes bounds the body of REST requests (the gateway decodes a
	// whole body into memory). Extra handlers, such as uploads, set their own.
	MaxBodyBytes int64
	// Pprof serves net/http/pprof under /debug/pprof/ on the HTTP port.
	// Off by default: profiles reveal the process's internals.
	Pprof bool
}

// RegisterFlags adds the server flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.GRPCAddr, "grpc-addr", ":9000", "gRPC listen address")
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8080", "HTTP listen address: REST API, /healthz, /readyz, /metrics")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful stop may take before in-flight requests are cancelled")
	fs.DurationVar(&c.DrainDelay, "shutdown-drain", 0, "how long to keep serving after /readyz turns 503 at shutdown, for load balancers to notice (e.g. 5s behind Kubernetes Services)")
	fs.Int64Var(&c.MaxBodyBytes, "http-max-body", 4<<20, "largest REST request body in bytes")
	fs.BoolVar(&c.Pprof, "debug-pprof", false, "serve Go profiles under /debug/pprof/ on the HTTP port (never on a public port)")
}
