package comment

import "flag"

// Config is the comment service's own configuration.
type Config struct {
	// DSN is the comment database; empty means SQLite in the data directory.
	DSN string
}

// RegisterFlags adds the comment service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DSN, "comment-db", "", "comment database: postgres://user:pass@host/db or sqlite:///path/comment.db (default: SQLite file comment.db in -data-dir)")
}
