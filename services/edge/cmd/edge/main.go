// Command edge runs the Douyin app's HTTP API on its own (-http-addr,
// default :8080), calling the services at their -target addresses
// (user, video, feed, favorite, comment, relation, message) and proxying
// /media/ to -media-origin. `edge -help` lists every setting.
package main

import (
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/edge"
)

func main() {
	var (
		cfg    edge.Config
		tokCfg token.Config
	)
	app.Main("edge", []config.Flags{&cfg, &tokCfg}, func(app.Config) fx.Option {
		return fx.Options(fx.Supply(cfg, tokCfg), edge.Module)
	})
}
