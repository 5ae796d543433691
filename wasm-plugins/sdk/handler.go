package sdk

// Request is the request a plugin handles. In WebAssembly it is a view of
// the host's request; natively (sdk/nethttp) of an *http.Request.
//
// Strings it returns are valid until the request ends (see the package
// documentation): copy them with strings.Clone to keep them longer.
type Request interface {
	// Method returns the HTTP method, e.g. "GET".
	Method() string
	// URI returns the path and query as the client sent them, still
	// percent-encoded: "/douyin/feed?latest_time=0".
	URI() string
	// Path returns URI's path, still percent-encoded. Route matching on the
	// encoded form is deliberate: a plugin and the router behind it must not
	// disagree about which route a request is for.
	Path() string
	// RawQuery returns URI's query without the '?', still encoded; see
	// Query to read one parameter.
	RawQuery() string
	// SetURI replaces the path and query the next handler sees.
	SetURI(uri string)
	// Protocol returns the protocol version, e.g. "HTTP/1.1".
	Protocol() string
	// SourceAddr returns the client's address as "ip:port" (see ClientIP).
	SourceAddr() string

	// Header returns the first value of the request header name, and whether
	// the request has it. Names are case-insensitive.
	Header(name string) (string, bool)
	// HeaderValues returns every value of the request header name, in order.
	// The slice must not be modified.
	HeaderValues(name string) []string
	// SetHeader replaces the values of the request header name.
	SetHeader(name, value string)
	// AddHeader adds a value to the request header name.
	AddHeader(name, value string)
	// RemoveHeader removes the request header name. Plugins that set a
	// header others trust (a verified user id) remove the client's first.
	RemoveHeader(name string)

	// Body returns the request body, reading at most max bytes, and leaves
	// it in place for the next handler. A body longer than max is passed on
	// untouched and reported with ErrBodyTooLarge. Only call it when the body
	// is needed (a form-encoded token, say): it makes the host buffer the
	// body, which streaming requests (uploads) should not pay for.
	Body(max int) ([]byte, error)
	// SetBody replaces the request body the next handler sees.
	SetBody(body []byte)
}

// Response is the response a plugin writes when it answers a request itself
// (HandleRequest returns false), or, in HandleResponse, the response of the
// handlers behind it.
//
// Set headers before the status code: hosts that stream send the headers
// when the status is set.
type Response interface {
	// StatusCode returns the status code. Before the next handler ran it is
	// 200; after, hosts report it only when response buffering is enabled
	// (FeatureBufferResponse).
	StatusCode() int
	// SetStatusCode sets the status code.
	SetStatusCode(code int)
	// Header returns the first value of the response header name.
	Header(name string) (string, bool)
	// SetHeader replaces the values of the response header name.
	SetHeader(name, value string)
	// AddHeader adds a value to the response header name.
	AddHeader(name, value string)
	// RemoveHeader removes the response header name.
	RemoveHeader(name string)
	// Write appends to the response body.
	Write(body []byte)
}

// Handler is a plugin: it sees each request before the handlers behind it.
//
// A Handler that runs natively is called concurrently, so it must be safe
// for concurrent use; in WebAssembly each instance runs one request at a
// time, and the host pools instances.
type Handler interface {
	// HandleRequest handles req. It returns true to pass the request on to
	// the next handler, false when it has written the response itself.
	HandleRequest(req Request, resp Response) (next bool)
}

// ResponseHandler is implemented by a Handler that also wants to see the
// response of the handlers behind it.
type ResponseHandler interface {
	// HandleResponse is called after the next handler, for requests
	// HandleRequest passed on. failed reports that the host failed to run
	// the next handler.
	HandleResponse(req Request, resp Response, failed bool)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(req Request, resp Response) bool

// HandleRequest calls f.
func (f HandlerFunc) HandleRequest(req Request, resp Response) bool { return f(req, resp) }

// Factory builds a plugin from its configuration bytes (JSON by
// convention; see DecodeConfig). It runs once per instance, when the module
// is initialised, so a bad configuration fails loading the plugin rather
// than its first request; its error should name the offending field.
type Factory func(config []byte) (Handler, error)
