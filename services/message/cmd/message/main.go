// Command message runs the Douyin message service on its own: gRPC on
// -grpc-addr, health and metrics on -http-addr. It calls the user service,
// so give it -target user=host:port. `message -help` lists every setting.
package main

import (
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/services/message"
)

func main() {
	var cfg message.Config
	app.Main("message", []config.Flags{&cfg}, func(app.Config) fx.Option {
		return fx.Options(fx.Supply(cfg), message.Module)
	})
}
