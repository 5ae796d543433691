// Command protoc-gen-go-fx is a protoc/buf plugin that wires each service
// into Tremolo's fx runtime: its method table, server module and client
// module. See package fxgen.
package main

import "github.com/tremolo-dev/tremolo/generators/protoc-gen-go-fx/fxgen"

func main() {
	opts, run := fxgen.Plugin()
	opts.Run(run)
}
