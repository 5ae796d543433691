package user

import "flag"

// Config is the user service's own configuration.
type Config struct {
	// DSN is the user database; empty means SQLite in the data directory.
	DSN string
}

// RegisterFlags adds the user service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DSN, "user-db", "", "user database: postgres://user:pass@host/db or sqlite:///path/user.db (default: SQLite file user.db in -data-dir)")
}
