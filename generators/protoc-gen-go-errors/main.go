// Command protoc-gen-go-errors is a protoc/buf plugin that generates Go
// error constructors, predicates and apierror specs from error enums
// (tremolo.options.v1.errors / error), and with catalog=<file> the
// repository's error catalog. See package errorsgen.
package main

import "github.com/tremolo-dev/tremolo/generators/protoc-gen-go-errors/errorsgen"

func main() {
	opts, run := errorsgen.Plugin()
	opts.Run(run)
}
