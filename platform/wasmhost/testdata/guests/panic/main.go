// Command panic is a test guest that passes requests on, except: with the
// request header X-Panic it panics (a trap: Go prints the panic to stderr
// and exits); with X-Noise it prints a megabyte to stdout and stderr first.
// Its words hold SECRET-GUEST-TEXT, which must never reach a client. It
// sets X-Plugin and removes X-Panic before panicking, changes a failed
// call must not leave behind.
package main

import (
	"wasmhost.test/guests/abi"

	"fmt"
	"os"
	"strings"
)

func main() {}

//go:wasmexport handle_request
func handleRequest() uint64 {
	if abi.Header(0, "X-Noise") != "" {
		line := strings.Repeat("SECRET-GUEST-TEXT noise ", 40) + "\n"
		for range 1 << 20 / len(line) {
			fmt.Fprint(os.Stdout, line)
			fmt.Fprint(os.Stderr, line)
		}
	}
	abi.SetHeader(0, "X-Plugin", "panic")
	if abi.Header(0, "X-Panic") != "" {
		abi.DelHeader(0, "X-Panic")
		panic("SECRET-GUEST-TEXT: panic on purpose")
	}
	return 1
}
