package edge

import (
	"flag"
	"time"
)

// Config is the edge's own configuration.
type Config struct {
	// PublicURL prefixes play_url and cover_url ("https://douyin.example.com");
	// empty means the scheme-less host the app reached the edge by.
	PublicURL string
	// MediaOrigin is the video service's HTTP address when it runs in another
	// process; the edge then proxies /media/ to it.
	MediaOrigin string
	// MaxUploadBytes bounds a published video (the video service has its
	// own bound; the edge stops reading past this one).
	MaxUploadBytes int64
	// TimeZone names the zone of comments' create_date ("Asia/Shanghai");
	// empty means the process's local zone.
	TimeZone string
	// Middleware is "wasm" (the plugin chain of PluginsFile checks tokens,
	// limits rates, routes and colours requests), "native" (the token check
	// of platform/auth alone) or "go" (PluginsFile's plugins compiled in,
	// without WebAssembly: the baseline of the chain's benchmark).
	Middleware string
	// PluginsFile is the chain file of the wasm middleware (see
	// platform/wasmchain), reloaded when it or a module changes.
	PluginsFile string
	// PluginsCacheDir keeps compiled plugins between runs; empty means
	// <data-dir>/wasm-cache.
	PluginsCacheDir string
	// RedisAddr holds the plugins' shared rate-limit buckets
	// ("127.0.0.1:6379"), so limits hold across edge replicas; empty keeps
	// them in the process.
	RedisAddr string

	loc *time.Location
}

// RegisterFlags adds the edge's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.PublicURL, "public-url", "", "base URL of play_url and cover_url (default: http:// and the Host the app used)")
	fs.StringVar(&c.MediaOrigin, "media-origin", "", "HTTP URL of the video service when it runs in another process; /media/ is proxied to it")
	fs.Int64Var(&c.MaxUploadBytes, "edge-max-upload-bytes", 100<<20, "largest video the edge accepts for publishing")
	fs.StringVar(&c.TimeZone, "edge-time-zone", "", "time zone of comments' create_date, e.g. Asia/Shanghai (default: local)")
	fs.StringVar(&c.Middleware, "edge-middleware", "wasm", "edge middleware: wasm (the plugin chain of -edge-plugins), native (token check only, in Go) or go (the chain's plugins compiled in, no WebAssembly: a benchmark baseline)")
	fs.StringVar(&c.PluginsFile, "edge-plugins", "wasm-plugins/chain.yaml", "chain file of the WASM plugins (-edge-middleware=wasm); build the modules with wasm-plugins/build.sh")
	fs.StringVar(&c.PluginsCacheDir, "edge-plugins-cache", "", "directory for compiled plugins (default <data-dir>/wasm-cache)")
	fs.StringVar(&c.RedisAddr, "edge-redis", "", "Redis address for the plugins' shared rate limits, host:port (default: in the process)")
}

func (c Config) location() *time.Location {
	if c.loc != nil {
		return c.loc
	}
	return time.Local
}
