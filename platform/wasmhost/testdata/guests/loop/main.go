// Command loop is a test guest that loops forever when the request has the
// header X-Loop, and passes requests on otherwise.
package main

import "wasmhost.test/guests/abi"

func main() {}

var sink int

//go:wasmexport handle_request
func handleRequest() uint64 {
	if abi.Header(0, "X-Loop") != "" {
		for i := 0; ; i++ {
			sink += i
		}
	}
	abi.SetHeader(0, "X-Plugin", "loop")
	return 1
}
