// Package bundle is the edge's four plugins (jwt, ratelimit, abrouting and
// colour) in one WebAssembly module, built from ./plugin: one Go runtime
// instead of four, which is what keeps the chain's cost down under load
// (see sdk.Bundle for why, and docs/benchmarks.md for the figures). The
// chain file lists the bundled plugins, their order, configs and policies,
// in the bundle's config (wasm-plugins/chain.yaml).
package bundle

import (
	"github.com/tremolo-dev/tremolo/wasm-plugins/abrouting"
	"github.com/tremolo-dev/tremolo/wasm-plugins/colour"
	"github.com/tremolo-dev/tremolo/wasm-plugins/jwt"
	"github.com/tremolo-dev/tremolo/wasm-plugins/ratelimit"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

// Plugins are the plugins the bundle holds, by the names its config uses.
var Plugins = map[string]sdk.Factory{
	"jwt":       jwt.New,
	"ratelimit": ratelimit.New,
	"abrouting": abrouting.New,
	"colour":    colour.New,
}

// New builds the bundle from its config (sdk.BundleConfig).
func New(config []byte) (sdk.Handler, error) { return sdk.Bundle(Plugins)(config) }
