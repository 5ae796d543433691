//go:build wasip1

package sdk

// The http_handler imports (ABI.md). Buffers are passed as *byte and a
// length, names and values as strings, which the compiler lowers to the
// (offset, length) pairs of i32 the ABI takes. The host copies what it
// keeps and holds no pointer past the call, which go:noescape tells the
// compiler: without it every buffer or string handed to the host would be
// moved to the heap (see tremolo_wasip1.go).

//go:wasmimport http_handler log
//go:noescape
func hostLog(level int32, msg string)

//go:wasmimport http_handler log_enabled
func hostLogEnabled(level int32) uint32

//go:wasmimport http_handler get_config
//go:noescape
func hostGetConfig(buf *byte, limit uint32) uint32

//go:wasmimport http_handler enable_features
func hostEnableFeatures(features uint32) uint32

//go:wasmimport http_handler get_method
//go:noescape
func hostGetMethod(buf *byte, limit uint32) uint32

//go:wasmimport http_handler set_method
//go:noescape
func hostSetMethod(method string)

//go:wasmimport http_handler get_uri
//go:noescape
func hostGetURI(buf *byte, limit uint32) uint32

//go:wasmimport http_handler set_uri
//go:noescape
func hostSetURI(uri string)

//go:wasmimport http_handler get_protocol_version
//go:noescape
func hostGetProtocolVersion(buf *byte, limit uint32) uint32

//go:wasmimport http_handler get_header_names
//go:noescape
func hostGetHeaderNames(kind uint32, buf *byte, limit uint32) uint64

//go:wasmimport http_handler get_header_values
//go:noescape
func hostGetHeaderValues(kind uint32, name string, buf *byte, limit uint32) uint64

//go:wasmimport http_handler set_header_value
//go:noescape
func hostSetHeaderValue(kind uint32, name, value string)

//go:wasmimport http_handler add_header_value
//go:noescape
func hostAddHeaderValue(kind uint32, name, value string)

//go:wasmimport http_handler remove_header
//go:noescape
func hostRemoveHeader(kind uint32, name string)

//go:wasmimport http_handler read_body
//go:noescape
func hostReadBody(kind uint32, buf *byte, limit uint32) uint64

//go:wasmimport http_handler write_body
//go:noescape
func hostWriteBody(kind uint32, buf *byte, length uint32)

//go:wasmimport http_handler get_status_code
func hostGetStatusCode() uint32

//go:wasmimport http_handler set_status_code
func hostSetStatusCode(code uint32)

//go:wasmimport http_handler get_source_addr
//go:noescape
func hostGetSourceAddr(buf *byte, limit uint32) uint32

// Header and body kinds.
const (
	kindRequest  uint32 = 0
	kindResponse uint32 = 1
)
