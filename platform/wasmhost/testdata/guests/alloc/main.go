// Command alloc is a test guest that allocates without bound when the
// request has the header X-Alloc, keeps N more MiB when it has X-Grow: N,
// and passes requests on otherwise.
package main

import (
	"strconv"

	"wasmhost.test/guests/abi"
)

func main() {}

var kept [][]byte

//go:wasmexport handle_request
func handleRequest() uint64 {
	if abi.Header(0, "X-Alloc") != "" {
		for {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1 // touch every page
			}
			kept = append(kept, b)
		}
	}
	if n, err := strconv.Atoi(abi.Header(0, "X-Grow")); err == nil {
		for range n {
			kept = append(kept, make([]byte, 1<<20))
		}
	}
	abi.SetHeader(0, "X-Plugin", "alloc")
	return 1
}
