// Command passthrough is a test guest: it sets a request header (its
// config, or "passthrough") and a response header, then passes the request
// on. With the config "skip" it enables Tremolo's skip_response feature,
// after which handle_response must not be called.
package main

import "wasmhost.test/guests/abi"

func main() {}

var value string

//go:wasmexport handle_request
func handleRequest() uint64 {
	if value == "" {
		if value = abi.Config(); value == "" {
			value = "passthrough"
		}
	}
	if value == "skip" {
		abi.EnableFeatures(1 << 16)
	}
	abi.SetHeader(0, "X-Plugin", value)
	abi.SetHeader(1, "X-Plugin-Seen", "1")
	return 1
}

//go:wasmexport handle_response
func handleResponse(reqCtx, isError uint32) {
	if value == "skip" {
		panic("handle_response called after skip_response was enabled")
	}
}
