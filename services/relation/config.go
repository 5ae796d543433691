package relation

import "flag"

// Config is the relation service's own configuration.
type Config struct {
	// DSN is the relation database; empty means SQLite in the data directory.
	DSN string
}

// RegisterFlags adds the relation service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DSN, "relation-db", "", "relation database: postgres://user:pass@host/db or sqlite:///path/relation.db (default: SQLite file relation.db in -data-dir)")
}
