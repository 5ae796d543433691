// Command faulty is a test bundle: colour, and "fault", a plugin that sets
// X-Fault-Was-Here on the request and the response and then, when the
// request has X-Panic, panics. The bundle tests load it with fault as
// fail_open and as fail_closed.
package main

import (
	"github.com/tremolo-dev/tremolo/wasm-plugins/colour"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

func init() {
	sdk.Register(sdk.Bundle(map[string]sdk.Factory{
		"colour": colour.New,
		"fault": func([]byte) (sdk.Handler, error) {
			return sdk.HandlerFunc(func(req sdk.Request, resp sdk.Response) bool {
				req.SetHeader("X-Fault-Was-Here", "yes")
				resp.SetHeader("X-Fault-Was-Here", "yes")
				if _, ok := req.Header("X-Panic"); ok {
					panic("fault: panic on purpose")
				}
				return true
			}), nil
		},
	}))
}

func main() {}
