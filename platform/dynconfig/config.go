package dynconfig

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Config chooses and configures the Source.
//
// There is no flag for etcd's address: the etcd source uses the process's
// etcd client, the one discovery builds from -etcd-endpoints, so that a
// process talks to one etcd through one connection and one set of TLS
// settings.
type Config struct {
	// Source is "file" (the default: Dir) or "etcd" (Prefix).
	Source string
	// Dir is the file source's directory, relative to the working
	// directory unless absolute. A missing directory means no documents.
	Dir string
	// Prefix is the etcd source's key prefix; it ends with '/'.
	Prefix string
	// Poll is how often the file source looks at the directory.
	Poll time.Duration
	// StartWait bounds how long startup waits for the first documents
	// (Options.StartWait).
	StartWait time.Duration
}

// RegisterFlags adds the dynamic configuration flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Source, "config-source", "file", "where dynamic configuration documents come from: file (-config-dir) or etcd (-config-prefix, on the etcd of -etcd-endpoints)")
	fs.StringVar(&c.Dir, "config-dir", "config", "directory of dynamic configuration documents, one file <name>.yaml|.yml|.json each; missing: none")
	fs.StringVar(&c.Prefix, "config-prefix", DefaultPrefix, "etcd key prefix of dynamic configuration documents, one key <prefix><name> each")
	fs.DurationVar(&c.Poll, "config-poll", time.Second, "how often the configuration directory is checked for changes")
	fs.DurationVar(&c.StartWait, "config-start-wait", 5*time.Second, "how long startup waits for the first configuration documents before running with defaults")
}

// NewSource returns the Source cfg names. cli is the etcd client, required
// only for the etcd source (nil otherwise is fine).
func NewSource(cfg Config, cli *clientv3.Client, logger *slog.Logger) (Source, error) {
	if cfg.Poll < 0 {
		return nil, fmt.Errorf("dynconfig: -config-poll %v is negative", cfg.Poll)
	}
	switch cfg.Source {
	case "":
		// The zero Config (a process or test assembled without flags):
		// no dynamic configuration, every consumer on its defaults.
		return NewMemorySource(nil), nil
	case "file":
		if cfg.Dir == "" {
			return nil, errors.New("dynconfig: -config-dir is empty: name the directory of configuration documents")
		}
		return &FileSource{Dir: cfg.Dir, Poll: cfg.Poll, Logger: logger}, nil
	case "etcd":
		if cli == nil {
			return nil, errors.New("dynconfig: -config-source=etcd needs etcd: set -registry etcd and -etcd-endpoints (the registry's etcd client is shared)")
		}
		prefix := cfg.Prefix
		if prefix == "" {
			prefix = DefaultPrefix
		}
		if !strings.HasSuffix(prefix, "/") {
			return nil, fmt.Errorf("dynconfig: -config-prefix %q must end with '/'", prefix)
		}
		return &EtcdSource{Client: cli, Prefix: prefix, Logger: logger}, nil
	default:
		return nil, fmt.Errorf("dynconfig: -config-source %q: want file or etcd", cfg.Source)
	}
}
