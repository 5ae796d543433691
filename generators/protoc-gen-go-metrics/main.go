// Command protoc-gen-go-metrics is a protoc/buf plugin that generates each
// service's Prometheus series and metrics interceptors from its methods and
// their tremolo.options.v1 options. See package metricsgen.
package main

import "github.com/tremolo-dev/tremolo/generators/protoc-gen-go-metrics/metricsgen"

func main() {
	opts, run := metricsgen.Plugin()
	opts.Run(run)
}
