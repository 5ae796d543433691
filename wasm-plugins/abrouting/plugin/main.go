// Command plugin is the abrouting plugin as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o abrouting.wasm ./wasm-plugins/abrouting/plugin
//
// (or wasm-plugins/build.sh). Natively it builds to nothing useful; main
// exists so that it does.
package main

import (
	"github.com/tremolo-dev/tremolo/wasm-plugins/abrouting"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

func init() { sdk.Register(abrouting.New) }

func main() {}
