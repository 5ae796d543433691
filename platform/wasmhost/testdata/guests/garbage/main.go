// Command garbage is a test guest that breaks the ABI in the way named by
// the request header X-Garbage, and passes requests on otherwise.
package main

import (
	"unsafe"

	"wasmhost.test/guests/abi"
)

func main() {}

//go:wasmimport http_handler log
func logRaw(level int32, buf, bufLen uint32)

var name = []byte("X-Plugin")

//go:wasmexport handle_request
func handleRequest() uint64 {
	mode := abi.Header(0, "X-Garbage")
	far := uint32(0xFFFFFF00)
	switch mode {
	case "ptr": // a buffer past the end of memory
		abi.GetMethod(far, 1024)
	case "len": // a length past the end of memory
		abi.SetHeaderValue(0, abi.Ptr(name), 0x7FFFFFFF, abi.Ptr(name), 1)
	case "wrap": // a buffer that wraps around 2^32
		n := []byte("X-Garbage")
		abi.GetHeaderValues(0, abi.Ptr(n), uint32(len(n)), 0xFFFFFFFF, 0xFFFFFFFF)
	case "kind":
		abi.GetHeaderNames(99, 0, 0)
	case "next":
		return 42<<32 | 7
	case "status":
		abi.SetStatusCode(42)
	case "name":
		abi.SetHeader(0, "Bad Name\r\n", "x")
	case "value":
		abi.SetHeader(1, "X-Ok", "a\r\nX-Injected: 1")
	case "level":
		logRaw(17, abi.Ptr(name), uint32(len(name)))
	case "body":
		abi.ReadBody(0, far, 100)
	case "bodykind":
		abi.WriteBody(5, 0, 0)
	case "uri":
		u := []byte("no-slash")
		abi.SetURI(abi.Ptr(u), uint32(len(u)))
	case "null":
		abi.GetMethod(uint32(uintptr(unsafe.Pointer(nil))), 0) // fits: nothing written
	}
	abi.SetHeader(0, "X-Plugin", "garbage")
	return 1
}

//go:wasmexport handle_response
func handleResponse(reqCtx, isError uint32) {
	if abi.Header(0, "X-Garbage") == "response" {
		abi.SetStatusCode(99)
	}
}
