// Command video runs the Douyin video service on its own: gRPC on
// -grpc-addr; health, metrics and the uploaded media (GET /media/) on
// -http-addr. `video -help` lists every setting.
package main

import (
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/services/video"
)

func main() {
	var cfg video.Config
	app.Main("video", []config.Flags{&cfg}, func(app.Config) fx.Option {
		return fx.Options(fx.Supply(cfg), video.Module)
	})
}
