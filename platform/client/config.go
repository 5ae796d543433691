package client

import (
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Config says where services are. A service without a target is reached on
// the process's own gRPC server (the all-in-one mode).
type Config struct {
	// Targets maps a service's short name to a gRPC target
	// ("127.0.0.1:9001", "dns:///user.internal:9000").
	Targets map[string]string
	// Loopback sends calls between services of one process over the
	// process's own gRPC port instead of in-process: slower, but the wire
	// path a split deployment takes, for debugging and for comparison.
	Loopback bool
}

// RegisterFlags adds -target, which may be repeated.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var((*targets)(c), "target", "where a service runs, as name=grpc-target (repeatable, or comma-separated); services without one are called in-process")
	fs.BoolVar(&c.Loopback, "local-loopback", false, "call this process's own services over its gRPC port instead of in-process")
}

type targets Config

func (t *targets) String() string {
	if t == nil || len(t.Targets) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(t.Targets)) {
		parts = append(parts, k+"="+t.Targets[k])
	}
	return strings.Join(parts, ",")
}

func (t *targets) Set(v string) error {
	if t.Targets == nil {
		t.Targets = map[string]string{}
	}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, target, ok := strings.Cut(part, "=")
		if !ok || name == "" || target == "" {
			return fmt.Errorf("target %q: want name=grpc-target, e.g. user=127.0.0.1:9001", part)
		}
		t.Targets[name] = target
	}
	return nil
}
