package idlease

import (
	"flag"
	"time"
)

// Config is the part of Options a deployment chooses. etcd's address is
// not here: the Lease uses the process's etcd client, the one discovery
// builds from -etcd-endpoints.
type Config struct {
	// Prefix is the id space (Options.Prefix).
	Prefix string
	// TTL is the lease's time to live (Options.TTL).
	TTL time.Duration
}

// RegisterFlags adds the id leasing flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Prefix, "ids-lease-prefix", DefaultPrefix, "etcd prefix of the snowflake node ids leased by this process; generators whose ids can meet must share it")
	fs.DurationVar(&c.TTL, "ids-lease-ttl", DefaultTTL, "lease of the node id: how long a dead process's id stays taken, and how long etcd may be away before ids stop")
}
