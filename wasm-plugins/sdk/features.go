package sdk

// Features are the http-wasm optional features a plugin asks the host for.
type Features uint32

// The features of http_handler's enable_features.
const (
	// FeatureBufferRequest makes the host buffer the request body, so that
	// reading it does not take it from the next handler.
	FeatureBufferRequest Features = 1 << 0
	// FeatureBufferResponse makes the host buffer the response of the next
	// handler, so HandleResponse can read and change it.
	FeatureBufferResponse Features = 1 << 1
	// FeatureTrailers asks for access to trailers.
	FeatureTrailers Features = 1 << 2
	// FeatureSkipResponse is Tremolo's (wasm-plugins/ABI.md): the host does
	// not call handle_response and frees the instance before the next
	// handler runs. Register enables it for plugins that are not a
	// ResponseHandler; other hosts ignore it.
	FeatureSkipResponse Features = 1 << 16
)

// Has reports whether every feature of want is in f.
func (f Features) Has(want Features) bool { return f&want == want }
