// Command user runs the Douyin user service on its own: gRPC on -grpc-addr,
// REST, health and metrics on -http-addr. `user -help` lists every setting.
package main

import (
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/user"
)

func main() {
	var (
		cfg    user.Config
		tokCfg token.Config
	)
	app.Main("user", []config.Flags{&cfg, &tokCfg}, func(app.Config) fx.Option {
		return fx.Options(fx.Supply(cfg, tokCfg), user.Module)
	})
}
