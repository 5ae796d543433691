// Command undo is a test guest of tremolo.undo_request and tremolo.retire.
// On every request it changes what a plugin can change before next (sets
// X-Changed, removes X-Keep, replaces the URI, stages a response header,
// status and body), calls undo_request, then sets
// X-After and passes the request on. With X-Retire it also calls retire;
// with X-Write-Body it writes "written" as the request body before the
// undo, which must stay.
package main

import (
	"wasmhost.test/guests/abi"

	"runtime"
)

func main() {}

//go:wasmimport tremolo undo_request
func undoRequest()

//go:wasmimport tremolo retire
func retire()

//go:wasmexport handle_request
func handleRequest() uint64 {
	abi.SetHeader(0, "X-Changed", "1")
	abi.DelHeader(0, "X-Keep")
	uri := []byte("/changed?by=undo")
	abi.SetURI(abi.Ptr(uri), uint32(len(uri)))
	runtime.KeepAlive(uri)
	abi.SetHeader(1, "X-Staged", "1")
	abi.SetStatusCode(418)
	abi.Write(1, "staged")
	if abi.Header(0, "X-Write-Body") != "" {
		abi.Write(0, "written")
	}
	undoRequest()
	if abi.Header(0, "X-Retire") != "" {
		retire()
	}
	abi.SetHeader(0, "X-After", "1")
	return 1
}
