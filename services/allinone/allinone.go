// Package allinone composes every Douyin service and the edge into one
// process: the README's run command (cmd/tremolo). Services call each other
// through the process's own gRPC server, so the code paths are those of the
// distributed deployment.
package allinone

import (
	"flag"

	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/comment"
	"github.com/tremolo-dev/tremolo/services/edge"
	"github.com/tremolo-dev/tremolo/services/favorite"
	"github.com/tremolo-dev/tremolo/services/feed"
	"github.com/tremolo-dev/tremolo/services/message"
	"github.com/tremolo-dev/tremolo/services/relation"
	"github.com/tremolo-dev/tremolo/services/user"
	"github.com/tremolo-dev/tremolo/services/video"
)

// Config holds every service's configuration.
type Config struct {
	User     user.Config
	Video    video.Config
	Favorite favorite.Config
	Comment  comment.Config
	Relation relation.Config
	Message  message.Config
	Feed     feed.Config
	Edge     edge.Config
	Token    token.Config
	// SeedDemo publishes a demo video when the store has none, so that a
	// fresh install's feed shows something.
	SeedDemo bool
}

// RegisterFlags adds every service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	for _, f := range []config.Flags{&c.User, &c.Video, &c.Favorite, &c.Comment, &c.Relation, &c.Message, &c.Feed, &c.Edge, &c.Token} {
		f.RegisterFlags(fs)
	}
	fs.BoolVar(&c.SeedDemo, "seed-demo", true, "publish a demo video (by user "+DemoUser+") when there is no video yet")
}

// Modules runs every service and the edge with cfg (parsed by now).
func Modules(cfg Config) fx.Option {
	opts := []fx.Option{
		fx.Supply(cfg.User, cfg.Video, cfg.Favorite, cfg.Comment, cfg.Relation, cfg.Message, cfg.Feed, cfg.Edge, cfg.Token),
		user.Module, video.Module, favorite.Module, comment.Module, relation.Module, message.Module, feed.Module, edge.Module,
	}
	if cfg.SeedDemo {
		opts = append(opts, seedModule)
	}
	return fx.Options(opts...)
}

// Configs returns the configuration to register on the process's flag set
// and the fx options that run it once parsed (what app.Main takes).
func Configs() ([]config.Flags, func(app.Config) fx.Option) {
	var cfg Config
	return []config.Flags{&cfg}, func(app.Config) fx.Option { return Modules(cfg) }
}
