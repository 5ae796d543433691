// Command comment runs the Douyin comment service on its own: gRPC on
// -grpc-addr, health and metrics on -http-addr. It calls the video service
// at -target video=host:port. `comment -help` lists every setting.
package main

import (
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/services/comment"
)

func main() {
	var cfg comment.Config
	app.Main("comment", []config.Flags{&cfg}, func(app.Config) fx.Option {
		return fx.Options(fx.Supply(cfg), comment.Module)
	})
}
