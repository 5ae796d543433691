package video

import "flag"

// DefaultMaxBytes is the default upload limit: 100 MiB.
const DefaultMaxBytes = 100 << 20

// Config is the video service's own configuration.
type Config struct {
	// DSN is the video database; empty means SQLite in the data directory.
	DSN string
	// MediaDir holds the video files and covers; empty means
	// <data-dir>/media.
	MediaDir string
	// MaxBytes is the largest video file Publish accepts; 0 means
	// DefaultMaxBytes.
	MaxBytes int64
}

// RegisterFlags adds the video service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DSN, "video-db", "", "video database: postgres://user:pass@host/db or sqlite:///path/video.db (default: SQLite file video.db in -data-dir)")
	fs.StringVar(&c.MediaDir, "media-dir", "", "directory of uploaded videos and their covers, served under /media/ (default: media in -data-dir)")
	fs.Int64Var(&c.MaxBytes, "video-max-bytes", DefaultMaxBytes, "largest video file an upload may have, in bytes")
}
