// Command garbage is a test guest that breaks the ABI in the way named by
// the request header X-Garbage, and passes requests on otherwise.
package main

import "unsafe"

func main() {}

//go:wasmimport http_handler log
func logRaw(level int32, buf, bufLen uint32)

var name = []byte("X-Plugin")

//go:wasmexport handle_request
func handleRequest() uint64 {
	mode := header(0, "X-Garbage")
	far := uint32(0xFFFFFF00)
	switch mode {
	case "ptr": // a buffer past the end of memory
		getMethod(far, 1024)
	case "len": // a length past the end of memory
		setHeaderValue(0, ptr(name), 0x7FFFFFFF, ptr(name), 1)
	case "wrap": // a buffer that wraps around 2^32
		n := []byte("X-Garbage")
		getHeaderValues(0, ptr(n), uint32(len(n)), 0xFFFFFFFF, 0xFFFFFFFF)
	case "kind":
		getHeaderNames(99, 0, 0)
	case "next":
		return 42<<32 | 7
	case "status":
		setStatusCode(42)
	case "name":
		setHeader(0, "Bad Name\r\n", "x")
	case "value":
		setHeader(1, "X-Ok", "a\r\nX-Injected: 1")
	case "level":
		logRaw(17, ptr(name), uint32(len(name)))
	case "body":
		readBody(0, far, 100)
	case "bodykind":
		writeBody(5, 0, 0)
	case "uri":
		u := []byte("no-slash")
		setURI(ptr(u), uint32(len(u)))
	case "null":
		getMethod(uint32(uintptr(unsafe.Pointer(nil))), 0) // fits: nothing written
	}
	setHeader(0, "X-Plugin", "garbage")
	return 1
}

//go:wasmexport handle_response
func handleResponse(reqCtx, isError uint32) {
	if header(0, "X-Garbage") == "response" {
		setStatusCode(99)
	}
}
