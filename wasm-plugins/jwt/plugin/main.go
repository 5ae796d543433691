// Command plugin is the jwt plugin as a WebAssembly module. The default
// build uses the tremolo host module to verify signatures:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -tags tremolo -o jwt.wasm ./wasm-plugins/jwt/plugin
//
// and without -tags tremolo it verifies in the guest and loads in any
// http-wasm host (see wasm-plugins/build.sh). Natively it builds to nothing
// useful; main exists so that it does.
package main

import (
	"github.com/tremolo-dev/tremolo/wasm-plugins/jwt"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

func init() { sdk.Register(jwt.New) }

func main() {}
