// Command plugin is the colour plugin as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o colour.wasm ./wasm-plugins/colour/plugin
//
// (or wasm-plugins/build.sh). Natively it builds to nothing useful; main
// exists so that it does.
package main

import (
	"github.com/tremolo-dev/tremolo/wasm-plugins/colour"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

func init() { sdk.Register(colour.New) }

func main() {}
