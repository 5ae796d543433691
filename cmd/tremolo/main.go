// Command tremolo runs the Douyin backend in one process on the embedded
// defaults: SQLite files and generated keys in -data-dir, services calling
// each other in-process. `tremolo -help` lists every setting; the same
// settings are read from TREMOLO_* environment variables
// (docs/configuration.md).
package main

import (
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/services/allinone"
)

func main() {
	cfgs, opts := allinone.Configs()
	app.Main("tremolo", cfgs, opts)
}
