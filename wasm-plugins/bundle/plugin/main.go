// Command plugin is the bundle of the edge's plugins as one WebAssembly
// module. It uses the tremolo host module (jwt's signature checks,
// ratelimit's shared buckets, and retiring an instance after a fail-open
// plugin panicked):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -tags tremolo -o bundle.wasm ./wasm-plugins/bundle/plugin
//
// Without -tags tremolo it loads in any http-wasm host (see
// wasm-plugins/build.sh). Natively it builds to nothing useful; main exists
// so that it does.
package main

import (
	"github.com/tremolo-dev/tremolo/wasm-plugins/bundle"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

func init() { sdk.Register(bundle.New) }

func main() {}
