// Command answer is a test guest that answers requests itself (next=0),
// echoing what it reads of the request through the ABI. With the request
// header X-Rewrite it instead rewrites the request (method, URI, a header,
// the body) and passes it on, and with X-Buffer it buffers the response
// and rewrites it in handle_response.
package main

import (
	"strings"

	"wasmhost.test/guests/abi"
)

func main() {}

//go:wasmexport handle_request
func handleRequest() uint64 {
	if abi.Header(0, "X-Buffer") != "" {
		abi.EnableFeatures(2)
		return 7<<32 | 1
	}
	abi.EnableFeatures(1)
	if abi.Header(0, "X-Rewrite") != "" {
		b := []byte("PUT")
		setMethodBytes(b)
		u := []byte("/rewritten?q=1")
		abi.SetURI(abi.Ptr(u), uint32(len(u)))
		abi.SetHeader(0, "X-Rewritten", "yes")
		orig := abi.Body(0)
		abi.Write(0, "rewritten:"+orig)
		return 8<<32 | 1
	}
	var sb strings.Builder
	sb.WriteString("method=" + abi.GetString(abi.GetMethod))
	sb.WriteString(" uri=" + abi.GetString(abi.GetURI))
	sb.WriteString(" proto=" + abi.GetString(abi.GetProtocolVersion))
	sb.WriteString(" addr=" + abi.GetString(abi.GetSourceAddr))
	sb.WriteString(" host=" + abi.Header(0, "Host"))
	sb.WriteString(" names=" + strings.Join(abi.HeaderNames(0), ","))
	sb.WriteString(" body=" + abi.Body(0))
	sb.WriteString(" config=" + abi.Config())
	abi.Logf(0, "answering "+abi.GetString(abi.GetURI))
	abi.SetStatusCode(203)
	abi.SetHeader(1, "Content-Type", "text/plain")
	abi.Write(1, sb.String())
	return 0
}

//go:wasmexport handle_response
func handleResponse(reqCtx, isError uint32) {
	switch reqCtx {
	case 8: // rewritten, not buffered: nothing to change
		return
	case 7:
	default:
		panic("handle_response got the wrong ctx")
	}
	b := abi.Body(1)
	abi.SetStatusCode(abi.GetStatusCode() + 1)
	abi.SetHeader(1, "X-Upstream-Len", itoa(len(b)))
	if isError == 1 {
		abi.SetHeader(1, "X-Is-Error", "1")
	}
	abi.Write(1, strings.ToUpper(b))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

//go:wasmimport http_handler set_method
func setMethod(buf, bufLen uint32)

func setMethodBytes(b []byte) { setMethod(abi.Ptr(b), uint32(len(b))) }
