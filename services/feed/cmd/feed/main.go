// Command feed runs the Douyin feed service on its own. It keeps no data;
// point it at the services it reads with -target (user, video, favorite,
// comment, relation). `feed -help` lists every setting.
package main

import (
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/services/feed"
)

func main() {
	var cfg feed.Config
	app.Main("feed", []config.Flags{&cfg}, func(app.Config) fx.Option {
		return fx.Options(fx.Supply(cfg), feed.Module)
	})
}
