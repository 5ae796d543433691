// Command tremolo runs the Douyin backend in one process on the embedded
// defaults: SQLite files and generated keys in -data-dir, services calling
// each other in-process. `tremolo -help` lists every setting; the same
// settings are read from TREMOLO_* environment variables
// (docs/configuration.md).
//
// Unlike a service binary, it listens for gRPC on 127.0.0.1:9000 unless
// -grpc-addr (or TREMOLO_GRPC_ADDR) says otherwise: its services call each
// other there and trust the user id the edge passes along, so the port must
// not be reachable from outside. The app's API is on -http-addr (:8080).
package main

import (
	"os"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/services/allinone"
)

func main() {
	if _, set := os.LookupEnv("TREMOLO_GRPC_ADDR"); !set {
		os.Setenv("TREMOLO_GRPC_ADDR", "127.0.0.1:9000") // a -grpc-addr flag still wins
	}
	cfgs, opts := allinone.Configs()
	app.Main("tremolo", cfgs, opts)
}
