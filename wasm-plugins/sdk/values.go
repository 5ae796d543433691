package sdk

// SetHeaderBytes is req.SetHeader(name, string(value)) without the string:
// value is copied before it returns, so it may be the caller's own buffer
// (strconv.AppendInt into a [20]byte on the stack).
//
// Why: in WebAssembly the host copies every value it is given anyway, and
// the string conversion would be the only allocation on a plugin's path
// (each one a trip through the guest's allocator, whose code the edge's
// other work keeps evicting from the CPU's caches). There the host reads
// the bytes where they are; natively it is SetHeader with a string made of
// them.
func SetHeaderBytes(req Request, name string, value []byte) {
	if !setRequestHeaderBytes(req, name, value) {
		req.SetHeader(name, string(value))
	}
}

// SetResponseHeaderBytes is SetHeaderBytes for a response header.
func SetResponseHeaderBytes(resp Response, name string, value []byte) {
	if !setResponseHeaderBytes(resp, name, value) {
		resp.SetHeader(name, string(value))
	}
}
