// Package allinone composes every Douyin service into one process: the
// README's run command (cmd/tremolo). Services call each other through the
// process's own gRPC server, so the code paths are those of the distributed
// deployment.
package allinone

import (
	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/user"
)

// Configs returns every configuration the all-in-one process reads besides
// the platform's (to register on its flag set), and the fx options that run
// the services once they are parsed.
func Configs() ([]config.Flags, func(app.Config) fx.Option) {
	var (
		userCfg user.Config
		tokCfg  token.Config
	)
	return []config.Flags{&userCfg, &tokCfg}, func(app.Config) fx.Option {
		return fx.Options(fx.Supply(userCfg, tokCfg), user.Module)
	}
}
