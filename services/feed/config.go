package feed

import (
	"flag"
	"time"
)

// DefaultPageTTL is how long the newest page may be served from the shared
// cache in a process that cannot see every write (see Config.PageTTL).
const DefaultPageTTL = time.Second

// Config is the feed service's own configuration.
type Config struct {
	// PageTTL bounds how long the newest feed page (videos, authors and
	// counts; never the viewer's likes and follows, which are read on every
	// request) is shared between requests. Writes made in this process drop
	// it at once; in a split deployment, where the writes happen in other
	// processes, new videos and counts show within PageTTL. Zero turns the
	// cache off.
	PageTTL time.Duration
}

// RegisterFlags adds the feed service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.PageTTL, "feed-page-ttl", DefaultPageTTL, "how long the newest feed page is shared between viewers (writes in this process drop it at once; 0 turns the cache off)")
}
