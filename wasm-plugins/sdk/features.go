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
)

// Has reports whether every feature of want is in f.
func (f Features) Has(want Features) bool { return f&want == want }
