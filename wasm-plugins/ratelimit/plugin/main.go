// Command plugin is the ratelimit plugin as a WebAssembly module. The
// default build keeps buckets in the host (tremolo.bucket_take):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -tags tremolo -o ratelimit.wasm ./wasm-plugins/ratelimit/plugin
//
// and without -tags tremolo each instance keeps its own and the module
// loads in any http-wasm host (see wasm-plugins/build.sh). Natively it
// builds to nothing useful; main exists so that it does.
package main

import (
	"github.com/tremolo-dev/tremolo/wasm-plugins/ratelimit"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

func init() { sdk.Register(ratelimit.New) }

func main() {}
