// Command favorite runs the Douyin favorite service on its own: gRPC on
// -grpc-addr, health and metrics on -http-addr. It calls the video service
// at -target video=host:port. `favorite -help` lists every setting.
package main

import (
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/services/favorite"
)

func main() {
	var cfg favorite.Config
	app.Main("favorite", []config.Flags{&cfg}, func(app.Config) fx.Option {
		return fx.Options(fx.Supply(cfg), favorite.Module)
	})
}
