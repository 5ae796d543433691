package edge

import (
	"fmt"
	"net/http"

	"github.com/tremolo-dev/tremolo/platform/wasmchain"
	"github.com/tremolo-dev/tremolo/wasm-plugins/abrouting"
	"github.com/tremolo-dev/tremolo/wasm-plugins/colour"
	"github.com/tremolo-dev/tremolo/wasm-plugins/jwt"
	"github.com/tremolo-dev/tremolo/wasm-plugins/ratelimit"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk/nethttp"
)

// nativePlugins are this repository's plugins compiled into the edge, by
// the names a chain file gives them.
var nativePlugins = map[string]sdk.Factory{
	"jwt":       jwt.New,
	"ratelimit": ratelimit.New,
	"abrouting": abrouting.New,
	"colour":    colour.New,
}

// nativeChain runs the plugins of a chain file compiled in, as plain
// net/http middleware (-edge-middleware=go): the same code and the same
// configuration as the WebAssembly chain, without WebAssembly. It is what
// the WASM chain's cost is measured against (docs/benchmarks.md); it does
// not follow the file, has no budgets, pools or failure policies, and keeps
// rate-limit buckets in the process.
func nativeChain(file string, vars map[string]string) func(http.Handler) (http.Handler, error) {
	return func(next http.Handler) (http.Handler, error) {
		specs, err := wasmchain.ReadPlugins(file, vars)
		if err != nil {
			return nil, fmt.Errorf("edge: -edge-middleware=go: %w", err)
		}
		h := next
		for i := len(specs) - 1; i >= 0; i-- {
			f, ok := nativePlugins[specs[i].Name]
			if !ok {
				return nil, fmt.Errorf("edge: -edge-middleware=go: %s: plugin %q has no native build (there are jwt, ratelimit, abrouting and colour)", file, specs[i].Name)
			}
			mw, err := nethttp.Middleware(f, specs[i].Config)
			if err != nil {
				return nil, fmt.Errorf("edge: -edge-middleware=go: %s: plugin %s: %w", file, specs[i].Name, err)
			}
			h = mw(h)
		}
		return h, nil
	}
}
