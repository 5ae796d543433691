// Command relation runs the Douyin relation service on its own: gRPC on
// -grpc-addr, health and metrics on -http-addr. It calls the user service,
// so give it -target user=host:port. `relation -help` lists every setting.
package main

import (
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/services/relation"
)

func main() {
	var cfg relation.Config
	app.Main("relation", []config.Flags{&cfg}, func(app.Config) fx.Option {
		return fx.Options(fx.Supply(cfg), relation.Module)
	})
}
