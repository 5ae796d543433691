package jwt

import (
	"encoding/base64"
	"fmt"
	"net/textproto"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk/keys"
)

// Config is the plugin's JSON configuration (see README.md).
type Config struct {
	// Keys verify tokens; at least one. Each names its algorithm.
	Keys []KeyConfig `json:"keys"`
	// Issuer is the required "iss"; "" accepts any. Default "tremolo",
	// the issuer of platform/token.
	Issuer string `json:"issuer"`
	// Audience, when not empty, requires an "aud" holding one of them.
	Audience []string `json:"audience"`
	// LeewaySeconds tolerates clock skew on exp, nbf and iat. Default 30,
	// as the platform's -jwt-leeway.
	LeewaySeconds int `json:"leeway_seconds"`
	// RequireExp refuses tokens without "exp". Default true.
	RequireExp bool `json:"require_exp"`
	// Public routes let requests without a valid token through (without a
	// user). "/douyin/feed" matches that path, with or without a trailing
	// slash; "/static/*" matches every path under /static/.
	Public []string `json:"public"`
	// QueryParam and FormField name the token's query parameter and
	// url-encoded form field. Default "token", as the Douyin app sends it.
	QueryParam string `json:"query_param"`
	FormField  string `json:"form_field"`
	// MaxFormBytes bounds the url-encoded body searched for a token
	// (default 64 KiB, the edge's own bound); longer bodies are passed on
	// unread.
	MaxFormBytes int `json:"max_form_bytes"`
	// ClaimHeaders copies claims into request headers ("tier" to
	// "X-Tremolo-Tier", say, for the ratelimit plugin), after removing
	// what the client sent under those names.
	ClaimHeaders map[string]string `json:"claim_headers"`
}

// KeyConfig is one verification key.
type KeyConfig struct {
	// Alg is "HS256", "RS256" or "EdDSA".
	Alg string `json:"alg"`
	// Key is the key as text: the HS256 secret itself, a PEM public key,
	// or a JWK (JSON, as a string). One of Key and KeyBase64.
	Key string `json:"key"`
	// KeyBase64 is the key's bytes in standard base64 (an HS256 secret
	// that is not text, or a raw 32-byte Ed25519 key).
	KeyBase64 string `json:"key_base64"`
	// Kid, when set, only verifies tokens whose header has no kid or this
	// one: it lets keys rotate without trying every key.
	Kid string `json:"kid"`
}

// DefaultConfig returns the defaults (without keys, which have none).
func DefaultConfig() Config {
	return Config{
		Issuer:        "tremolo",
		LeewaySeconds: 30,
		RequireExp:    true,
		QueryParam:    "token",
		FormField:     "token",
		MaxFormBytes:  64 << 10,
	}
}

func (c Config) verifier() (*Verifier, []string, error) {
	if len(c.Keys) == 0 {
		return nil, nil, sdk.FieldError("keys", "at least one key is needed")
	}
	v := &Verifier{
		issuer:     c.Issuer,
		audience:   c.Audience,
		leeway:     time.Duration(c.LeewaySeconds) * time.Second,
		requireExp: c.RequireExp,
		now:        sdk.Now, // one clock read in a guest, where time.Now makes two
	}
	for i, kc := range c.Keys {
		field := fmt.Sprintf("keys[%d]", i)
		alg, ok := keys.ParseAlg(kc.Alg)
		if !ok {
			return nil, nil, sdk.FieldError(field+".alg", "%q is not one of HS256, RS256, EdDSA (\"none\" and the others are never accepted)", kc.Alg)
		}
		var material []byte
		switch {
		case kc.Key != "" && kc.KeyBase64 != "":
			return nil, nil, sdk.FieldError(field, "set key or key_base64, not both")
		case kc.Key != "":
			material = []byte(kc.Key)
		case kc.KeyBase64 != "":
			b, err := base64.StdEncoding.DecodeString(kc.KeyBase64)
			if err != nil {
				return nil, nil, sdk.FieldError(field+".key_base64", "not standard base64: %v", err)
			}
			material = b
		default:
			return nil, nil, sdk.FieldError(field, "key or key_base64 is needed")
		}
		k, err := keys.New(alg, material)
		if err != nil {
			return nil, nil, sdk.FieldError(field+".key", "%v", err)
		}
		v.keys = append(v.keys, verifyKey{kid: kc.Kid, key: k})
	}
	if c.LeewaySeconds < 0 || c.LeewaySeconds > 3600 {
		return nil, nil, sdk.FieldError("leeway_seconds", "%d is not between 0 and 3600", c.LeewaySeconds)
	}
	for i, a := range c.Audience {
		if a == "" {
			return nil, nil, sdk.FieldError(fmt.Sprintf("audience[%d]", i), "is empty")
		}
	}
	if len(c.ClaimHeaders) > maxExtraClaims {
		return nil, nil, sdk.FieldError("claim_headers", "%d claims; at most %d", len(c.ClaimHeaders), maxExtraClaims)
	}
	var headers []string
	for claim := range c.ClaimHeaders {
		v.extra = append(v.extra, claim)
	}
	sort.Strings(v.extra)
	for _, claim := range v.extra {
		h := c.ClaimHeaders[claim]
		field := "claim_headers." + claim
		switch {
		case claim == "" || ambiguous([]byte(claim), registered...):
			return nil, nil, sdk.FieldError(field, "claim %q cannot be copied (registered claims are checked, not copied)", claim)
		case !validHeaderName(h):
			return nil, nil, sdk.FieldError(field, "%q is not a header name", h)
		case strings.EqualFold(h, UserHeader):
			return nil, nil, sdk.FieldError(field, "%s is the plugin's own", UserHeader)
		case slices.Contains(headers, textproto.CanonicalMIMEHeaderKey(h)):
			// Which claim would the header carry when both are present,
			// and would the absent one's removal win? Refused, not guessed.
			return nil, nil, sdk.FieldError(field, "%s already carries another claim", textproto.CanonicalMIMEHeaderKey(h))
		}
		headers = append(headers, textproto.CanonicalMIMEHeaderKey(h))
	}
	for _, f := range []struct{ name, value string }{{"query_param", c.QueryParam}, {"form_field", c.FormField}} {
		if f.value == "" {
			return nil, nil, sdk.FieldError(f.name, "is empty")
		}
	}
	if c.MaxFormBytes < 0 || c.MaxFormBytes > 16<<20 {
		return nil, nil, sdk.FieldError("max_form_bytes", "%d is not between 0 and %d", c.MaxFormBytes, 16<<20)
	}
	return v, headers, nil
}

func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
