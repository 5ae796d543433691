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
}

// RegisterFlags adds the server flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.GRPCAddr, "grpc-addr", ":9000", "gRPC listen address")
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8080", "HTTP listen address: REST API, /healthz, /readyz, /metrics")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful stop may take before in-flight requests are cancelled")
}
