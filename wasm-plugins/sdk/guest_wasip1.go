//go:build wasip1

package sdk

import (
	"errors"
	"os"
	"strings"
	"unsafe"
)

// The registered plugin.
var (
	handler     Handler
	respHandler ResponseHandler
	factory     Factory
)

// Register makes f the module's plugin. A plugin's package main calls it
// from an init function, which runs in the module's _initialize: Register
// reads the plugin's configuration from the host, builds the Handler and
// serves handle_request with it. A Factory error is logged at error level
// (and written to stderr) and fails _initialize, so the host refuses to load
// a badly configured plugin rather than failing its requests.
func Register(f Factory) {
	factory = f
	h, err := f(readConfig())
	if err == nil && h == nil {
		err = errors.New("the plugin's Factory returned no Handler")
	}
	if err != nil {
		msg := "plugin initialisation failed: " + err.Error()
		Log(LevelError, msg)
		_, _ = os.Stderr.WriteString(msg + "\n")
		panic(msg)
	}
	handler = h
	respHandler, _ = h.(ResponseHandler)
	if respHandler == nil {
		// Nothing to do after the next handler: the instance can serve
		// another request meanwhile, and no second call is made.
		EnableFeatures(FeatureSkipResponse)
	}
}

// Registered returns the Factory given to Register, or nil.
func Registered() Factory { return factory }

// EnableFeatures asks the host for features and returns those it enabled.
// Called from a Factory it applies to every request; called while handling
// a request, to that request.
func EnableFeatures(f Features) Features { return Features(hostEnableFeatures(uint32(f))) }

func logEnabled(level Level) bool { return hostLogEnabled(int32(level)) == 1 }

func logWrite(level Level, msg string) { hostLog(int32(level), msg) }

// readConfig returns a copy of the config bytes, which the plugin may keep.
func readConfig() []byte {
	buf := make([]byte, 1024)
	n := hostGetConfig(unsafe.SliceData(buf), uint32(len(buf)))
	if int(n) > len(buf) {
		buf = make([]byte, n)
		n = hostGetConfig(unsafe.SliceData(buf), uint32(len(buf)))
	}
	return buf[:n]
}

// arena holds what the host copies into the guest during one request;
// Request and Response hand out strings that point into it. Growing it
// allocates a new array and leaves the old one to the strings already
// handed out, so they stay valid until the request ends.
var arena = make([]byte, 0, arenaSize)

const (
	arenaSize    = 16 << 10
	arenaMaxKeep = 1 << 20 // a larger arena is dropped after its request
	chunkSize    = 32 << 10
)

// reserve returns at least n free bytes at the end of the arena.
func reserve(n int) []byte {
	if cap(arena)-len(arena) < n {
		c := 2 * cap(arena)
		if c < n+arenaSize {
			c = n + arenaSize
		}
		arena = make([]byte, 0, c)
	}
	return arena[len(arena):cap(arena)]
}

// commit marks the first n reserved bytes used and returns them.
func commit(n int) []byte {
	b := arena[len(arena) : len(arena)+n]
	arena = arena[:len(arena)+n]
	return b
}

func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// readString reads a string from a (buf, limit) -> len import, retrying
// with the length the host asks for when it did not fit.
func readString(get func(*byte, uint32) uint32) string {
	free := reserve(256)
	n := int(get(unsafe.SliceData(free), uint32(len(free))))
	if n > len(free) {
		free = reserve(n)
		if n = int(get(unsafe.SliceData(free), uint32(len(free)))); n > len(free) {
			panic("sdk: the host's value grew between two reads")
		}
	}
	return str(commit(n))
}

// headerValues reads the NUL-terminated values of header name.
func headerValues(kind uint32, name string) (vals []byte, count uint32) {
	free := reserve(256)
	r := hostGetHeaderValues(kind, name, unsafe.SliceData(free), uint32(len(free)))
	count, n := uint32(r>>32), int(uint32(r))
	if n > len(free) {
		free = reserve(n)
		r = hostGetHeaderValues(kind, name, unsafe.SliceData(free), uint32(len(free)))
		if count, n = uint32(r>>32), int(uint32(r)); n > len(free) {
			panic("sdk: the host's header grew between two reads")
		}
	}
	return commit(n), count
}

func firstHeader(kind uint32, name string) (string, bool) {
	vals, count := headerValues(kind, name)
	switch {
	case count == 0:
		return "", false
	case count == 1 && len(vals) > 0:
		// One value: it is all but the NUL that ends it.
		return str(vals[:len(vals)-1]), true
	}
	if i := indexNUL(vals); i >= 0 {
		vals = vals[:i]
	}
	return str(vals), true
}

func allHeaders(kind uint32, name string) []string {
	vals, count := headerValues(kind, name)
	if count == 0 {
		return nil
	}
	out := make([]string, 0, count)
	for len(vals) > 0 {
		i := indexNUL(vals)
		if i < 0 {
			i = len(vals)
		}
		out = append(out, str(vals[:i]))
		if i == len(vals) {
			break
		}
		vals = vals[i+1:]
	}
	return out
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// requestState is what the glue knows of the current request.
type requestState struct {
	method, uri, proto, source  string
	hasMethod, hasURI, hasProto bool
	hasSource                   bool
	pathEnd                     int // len(uri), or the index of '?'
	bodyRead, bodyTooLarge      bool
	bodyReading                 bool // Body is under way: a panic left it half read
	body                        []byte
	bodyErr                     error
	putBack                     []byte // written to the request body when handle_request returns
	hasPutBack                  bool
}

var request requestState

type wasmRequest struct{}
type wasmResponse struct{}

func (wasmRequest) Method() string {
	if !request.hasMethod {
		request.method, request.hasMethod = readString(hostGetMethod), true
	}
	return request.method
}

func (wasmRequest) URI() string {
	loadURI()
	return request.uri
}

func loadURI() {
	if !request.hasURI {
		setURICache(readString(hostGetURI))
	}
}

func setURICache(uri string) {
	request.uri, request.hasURI = uri, true
	request.pathEnd = strings.IndexByte(uri, '?')
	if request.pathEnd < 0 {
		request.pathEnd = len(uri)
	}
}

func (wasmRequest) Path() string {
	loadURI()
	return request.uri[:request.pathEnd]
}

func (wasmRequest) RawQuery() string {
	loadURI()
	if request.pathEnd == len(request.uri) {
		return ""
	}
	return request.uri[request.pathEnd+1:]
}

func (wasmRequest) SetURI(uri string) {
	hostSetURI(uri)
	setURICache(uri)
}

func (wasmRequest) Protocol() string {
	if !request.hasProto {
		request.proto, request.hasProto = readString(hostGetProtocolVersion), true
	}
	return request.proto
}

func (wasmRequest) SourceAddr() string {
	if !request.hasSource {
		request.source, request.hasSource = readString(hostGetSourceAddr), true
	}
	return request.source
}

func (wasmRequest) Header(name string) (string, bool)  { return firstHeader(kindRequest, name) }
func (wasmRequest) HeaderValues(name string) []string  { return allHeaders(kindRequest, name) }
func (wasmRequest) SetHeader(name, value string)       { hostSetHeaderValue(kindRequest, name, value) }
func (wasmRequest) AddHeader(name, value string)       { hostAddHeaderValue(kindRequest, name, value) }
func (wasmRequest) RemoveHeader(name string)           { hostRemoveHeader(kindRequest, name) }
func (wasmResponse) Header(name string) (string, bool) { return firstHeader(kindResponse, name) }
func (wasmResponse) SetHeader(name, value string)      { hostSetHeaderValue(kindResponse, name, value) }
func (wasmResponse) AddHeader(name, value string)      { hostAddHeaderValue(kindResponse, name, value) }
func (wasmResponse) RemoveHeader(name string)          { hostRemoveHeader(kindResponse, name) }
func (wasmResponse) StatusCode() int                   { return int(hostGetStatusCode()) }
func (wasmResponse) SetStatusCode(code int)            { hostSetStatusCode(uint32(code)) }

// setRequestHeaderBytes and setResponseHeaderBytes are SetHeaderBytes and
// SetResponseHeaderBytes for the host's request and response: the host
// copies the value during the call (and the import is go:noescape), so a
// view of the caller's buffer is all it needs. They report false for other
// implementations.
func setRequestHeaderBytes(req Request, name string, value []byte) bool {
	if _, ok := req.(wasmRequest); !ok {
		return false
	}
	hostSetHeaderValue(kindRequest, name, str(value))
	return true
}

func setResponseHeaderBytes(resp Response, name string, value []byte) bool {
	if _, ok := resp.(wasmResponse); !ok {
		return false
	}
	hostSetHeaderValue(kindResponse, name, str(value))
	return true
}

func (wasmResponse) Write(body []byte) {
	if len(body) > 0 {
		hostWriteBody(kindResponse, unsafe.SliceData(body), uint32(len(body)))
	}
}

// Body reads the body with request buffering enabled, then writes what it
// read back (when handle_request returns, so SetBody can still replace
// it): hosts differ in what "buffering" keeps for the next handler
// (http-wasm-host-go v0.7.0 keeps only the last read), and writing it back
// is correct in all of them.
func (wasmRequest) Body(max int) ([]byte, error) {
	if request.bodyRead {
		return request.body, request.bodyErr
	}
	// Not a defer: a panic must leave bodyReading set for Bundle to see.
	request.bodyRead, request.bodyReading = true, true
	body, err := readBody(max)
	request.bodyReading = false
	return body, err
}

// readBody is Body's first read of the body.
func readBody(max int) ([]byte, error) {
	hostEnableFeatures(uint32(FeatureBufferRequest))
	if max < 0 {
		max = 0
	}
	free := reserve(max + 1)[:max+1]
	n, eof := readInto(free)
	if n <= max {
		request.body = commit(n)
		request.putBack, request.hasPutBack = request.body, true
		return request.body, nil
	}
	// Too large: pass it all on as it is, without keeping it.
	head := commit(n)
	hostWriteBody(kindRequest, unsafe.SliceData(head), uint32(n))
	chunk := reserve(chunkSize)[:chunkSize]
	for !eof {
		var m int
		m, eof = readInto(chunk)
		if m > 0 {
			hostWriteBody(kindRequest, unsafe.SliceData(chunk), uint32(m))
		}
	}
	request.bodyTooLarge = true
	request.bodyErr = ErrBodyTooLarge
	return nil, ErrBodyTooLarge
}

// readInto fills buf from the request body, stopping at its end.
func readInto(buf []byte) (n int, eof bool) {
	stalls := 0
	for n < len(buf) && !eof {
		r := hostReadBody(kindRequest, &buf[n], uint32(len(buf)-n))
		got := int(uint32(r))
		eof = r>>32 != 0
		n += got
		if got == 0 && !eof {
			if stalls++; stalls == 3 {
				panic("sdk: the host's read_body returns nothing without reaching the end")
			}
		}
	}
	return n, eof
}

func (wasmRequest) SetBody(body []byte) {
	if request.bodyTooLarge {
		Log(LevelWarn, "sdk: SetBody after Body returned ErrBodyTooLarge is ignored: the body was already passed on")
		return
	}
	request.putBack, request.hasPutBack = body, true
}

//go:wasmexport handle_request
func handleRequest() uint64 {
	if cap(arena) > arenaMaxKeep {
		arena = make([]byte, 0, arenaSize)
	}
	arena = arena[:0]
	request = requestState{}
	if handler == nil {
		panic("sdk: no plugin registered: call sdk.Register from the plugin's init")
	}
	if !serve() {
		return 0
	}
	if request.hasPutBack {
		hostWriteBody(kindRequest, unsafe.SliceData(request.putBack), uint32(len(request.putBack)))
	}
	return 1 // ctx 0, next 1
}

// serve runs the handler. A panic is logged through the host and goes on:
// the Go runtime then ends the instance, and the host applies the plugin's
// policy (deny with the envelope, or skip the plugin), counts the failure
// and discards the instance, whose state the panic may have left half
// changed. Answering the request here instead would bypass the policy.
func serve() (next bool) {
	defer func() {
		if r := recover(); r != nil {
			Logf(LevelError, "plugin panicked: %v", r)
			panic(r)
		}
	}()
	return handler.HandleRequest(wasmRequest{}, wasmResponse{})
}

//go:wasmexport handle_response
func handleResponse(reqCtx uint32, isError uint32) {
	if respHandler != nil {
		respHandler.HandleResponse(wasmRequest{}, wasmResponse{}, isError != 0)
	}
}
