// Command faulty is a test bundle: colour, and "fault", a plugin that sets
// X-Fault-Was-Here on the request and the response and then, when the
// request has X-Panic, panics: after reading the body when X-Panic is
// "after-body", inside Body when it is "in-body". The bundle tests load it
// with fault as fail_open and as fail_closed.
package main

import (
	"math"

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
				switch v, _ := req.Header("X-Panic"); v {
				case "":
				case "after-body":
					_, _ = req.Body(1 << 10)
					panic("fault: panic on purpose, the body read")
				case "in-body":
					_, _ = req.Body(math.MaxInt) // too large to reserve: panics inside Body
				default:
					panic("fault: panic on purpose")
				}
				return true
			}), nil
		},
	}))
}

func main() {}
