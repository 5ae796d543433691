package colour

import "github.com/tremolo-dev/tremolo/wasm-plugins/sdk"

// Config is the plugin's JSON configuration (see README.md).
type Config struct {
	// TagQuery names the query parameter a traffic tag is taken from when
	// the request has no valid X-Traffic-Tag; empty: none.
	TagQuery string `json:"tag_query"`
	// TagCookie names the cookie a traffic tag is taken from after that;
	// empty: none.
	TagCookie string `json:"tag_cookie"`
	// Tags, when not empty, are the only tags accepted: a client should
	// not invent tags that downstream services act on.
	Tags []string `json:"tags"`
	// Cells is the number of cells users are hashed into; 0 sets no
	// X-Cell-ID.
	Cells int `json:"cells"`
	// EchoRequestID sends X-Request-Id back in the response, as
	// platform/requestid does, since app clients rarely make their own.
	EchoRequestID bool `json:"echo_request_id"`
}

// DefaultConfig returns the defaults: no tag sources, no cells, the id
// echoed.
func DefaultConfig() Config { return Config{EchoRequestID: true} }

// MaxCells bounds Cells.
const MaxCells = 1 << 16

func (c Config) validate() error {
	if c.TagQuery != "" && !ValidTag(c.TagQuery) {
		return sdk.FieldError("tag_query", "%q is not a valid parameter name (letters, digits, '.', '_', '-')", c.TagQuery)
	}
	if c.TagCookie != "" && !ValidTag(c.TagCookie) {
		return sdk.FieldError("tag_cookie", "%q is not a valid cookie name (letters, digits, '.', '_', '-')", c.TagCookie)
	}
	for i, t := range c.Tags {
		if !ValidTag(t) {
			return sdk.FieldError("tags["+itoa(i)+"]", "%q is not a valid tag: 1 to %d letters, digits, '.', '_' or '-'", t, MaxTagLen)
		}
	}
	if c.Cells < 0 || c.Cells > MaxCells {
		return sdk.FieldError("cells", "%d is not between 0 and %d", c.Cells, MaxCells)
	}
	return nil
}
