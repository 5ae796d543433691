package message

import "flag"

// Config is the message service's own configuration.
type Config struct {
	// DSN is the message database; empty means SQLite in the data directory.
	DSN string
}

// RegisterFlags adds the message service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DSN, "message-db", "", "message database: postgres://user:pass@host/db or sqlite:///path/message.db (default: SQLite file message.db in -data-dir)")
}
