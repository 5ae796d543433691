// Command answer is a test guest that answers requests itself (next=0),
// echoing what it reads of the request through the ABI. With the request
// header X-Rewrite it instead rewrites the request (method, URI, a header,
// the body) and passes it on, and with X-Buffer it buffers the response
// and rewrites it in handle_response.
package main

import "strings"

func main() {}

//go:wasmexport handle_request
func handleRequest() uint64 {
	if header(0, "X-Buffer") != "" {
		enableFeatures(2)
		return 7<<32 | 1
	}
	enableFeatures(1)
	if header(0, "X-Rewrite") != "" {
		b := []byte("PUT")
		setMethodBytes(b)
		u := []byte("/rewritten?q=1")
		setURI(ptr(u), uint32(len(u)))
		setHeader(0, "X-Rewritten", "yes")
		orig := body(0)
		write(0, "rewritten:"+orig)
		return 8<<32 | 1
	}
	var sb strings.Builder
	sb.WriteString("method=" + getString(getMethod))
	sb.WriteString(" uri=" + getString(getURI))
	sb.WriteString(" proto=" + getString(getProtocolVersion))
	sb.WriteString(" addr=" + getString(getSourceAddr))
	sb.WriteString(" host=" + header(0, "Host"))
	sb.WriteString(" names=" + strings.Join(headerNames(0), ","))
	sb.WriteString(" body=" + body(0))
	sb.WriteString(" config=" + config())
	logf(0, "answering "+getString(getURI))
	setStatusCode(203)
	setHeader(1, "Content-Type", "text/plain")
	write(1, sb.String())
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
	b := body(1)
	setStatusCode(getStatusCode() + 1)
	setHeader(1, "X-Upstream-Len", itoa(len(b)))
	if isError == 1 {
		setHeader(1, "X-Is-Error", "1")
	}
	write(1, strings.ToUpper(b))
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

func setMethodBytes(b []byte) { setMethod(ptr(b), uint32(len(b))) }
