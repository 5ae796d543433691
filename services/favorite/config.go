package favorite

import "flag"

// Config is the favorite service's own configuration.
type Config struct {
	// DSN is the favorite database; empty means SQLite in the data directory.
	DSN string
}

// RegisterFlags adds the favorite service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DSN, "favorite-db", "", "favorite database: postgres://user:pass@host/db or sqlite:///path/favorite.db (default: SQLite file favorite.db in -data-dir)")
}
