// Package jwt is the edge plugin that verifies the app's tokens and tells
// the services who the user is: it sets X-Tremolo-User-Id from the numeric
// "sub" of a valid token, having removed whatever the client sent under
// that name, and refuses requests to non-public routes without a valid
// token with the app's envelope (10002 token required, 10003 invalid, 10004
// expired).
//
// Tokens come as platform/token signs them (HS256, iss "tremolo", sub the
// decimal user id, iat, exp) or signed by other issuers' keys (RS256,
// EdDSA). In the default WebAssembly build signatures are verified by the
// host (tremolo.signature_verify): HMAC-SHA256 in a Go guest is ~45 times
// slower than native.
//
// The token is looked for where the Douyin app puts it: the "token" query
// parameter, the "token" field of a url-encoded form body, or an
// "Authorization: Bearer" header. The body is only read (and put back for
// the next handler) when the request is form-encoded, so uploads stream.
package jwt

import (
	"errors"
	"strconv"
	"unsafe"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

// UserHeader is the header the verified user id goes in.
const UserHeader = "X-Tremolo-User-Id"

// The codes and envelopes of refused requests (docs/errors.md).
const (
	CodeInvalidParameter = 10001
	CodeTokenRequired    = 10002
	CodeTokenInvalid     = 10003
	CodeTokenExpired     = 10004
)

var (
	envFormTooLarge = sdk.Envelope(CodeInvalidParameter, "the form is too large")
	envRequired     = sdk.Envelope(CodeTokenRequired, "please sign in: this needs a token")
	envInvalid      = sdk.Envelope(CodeTokenInvalid, "the token is not valid: please sign in again")
	envExpired      = sdk.Envelope(CodeTokenExpired, "the token has expired: please sign in again")
)

// Plugin is the jwt plugin. It is safe for concurrent use.
type Plugin struct {
	cfg      Config
	verifier *Verifier
	verified verifiedCache
	routes   routes
	headers  []string // ClaimHeaders' headers, in Verifier.extra's order
}

// New builds the plugin from its JSON config; it is the plugin's
// sdk.Factory.
func New(config []byte) (sdk.Handler, error) {
	p, err := NewPlugin(config)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// NewPlugin is New returning the concrete type.
func NewPlugin(config []byte) (*Plugin, error) {
	cfg := DefaultConfig()
	if err := sdk.DecodeConfig(config, &cfg); err != nil {
		return nil, err
	}
	v, headers, err := cfg.verifier()
	if err != nil {
		return nil, err
	}
	rt, err := newRoutes(cfg.Public)
	if err != nil {
		return nil, err
	}
	return &Plugin{cfg: cfg, verifier: v, routes: rt, headers: headers}, nil
}

// Verifier returns the plugin's token verifier.
func (p *Plugin) Verifier() *Verifier { return p.verifier }

// HandleRequest verifies the request's token.
func (p *Plugin) HandleRequest(req sdk.Request, resp sdk.Response) bool {
	public := p.routes.public(req.Path())
	tok, formTooLarge := p.token(req)
	if tok == "" {
		if public {
			p.anonymous(req)
			return true
		}
		if formTooLarge {
			// The token may be in the part of the form not searched: the
			// form is refused for its size, as the edge refuses forms over
			// its own bound, rather than the client told to sign in.
			sdk.CounterAdd("refused_form_too_large", 1)
			sdk.Refuse(resp, envFormTooLarge)
			return false
		}
		sdk.CounterAdd("refused_token_required", 1)
		sdk.Refuse(resp, envRequired)
		return false
	}
	c, err := p.verifier.verifyCached(&p.verified, tok)
	if err != nil {
		if public {
			// The app keeps sending its old token to the feed and to
			// login, which must keep working.
			p.anonymous(req)
			return true
		}
		sdk.Logf(sdk.LevelDebug, "jwt: refused %s %s: %v", req.Method(), req.Path(), err)
		if isExpired(err) {
			sdk.CounterAdd("refused_token_expired", 1)
			sdk.Refuse(resp, envExpired)
		} else {
			sdk.CounterAdd("refused_token_invalid", 1)
			sdk.Refuse(resp, envInvalid)
		}
		return false
	}
	// Setting replaces whatever the client sent under these names.
	var buf [20]byte
	sdk.SetHeaderBytes(req, UserHeader, strconv.AppendInt(buf[:0], c.UserID, 10))
	for i, h := range p.headers {
		if c.Extra[i] != "" {
			req.SetHeader(h, c.Extra[i])
		} else {
			req.RemoveHeader(h)
		}
	}
	return true
}

// anonymous removes the headers the plugin vouches for from a request it
// passes on without a verified token, so that a client cannot send its own.
// (A request it refuses goes no further, and one it verifies gets them
// set, which replaces the client's: neither needs a call for it.)
func (p *Plugin) anonymous(req sdk.Request) {
	req.RemoveHeader(UserHeader)
	for _, h := range p.headers {
		req.RemoveHeader(h)
	}
}

func isExpired(err error) bool {
	re, ok := err.(*reasonError)
	return ok && re.err == ErrExpired
}

// token finds the request's token: the query parameter, else the form
// field of a url-encoded body, else a bearer token. formTooLarge reports a
// form body over max_form_bytes, which was passed on unsearched.
func (p *Plugin) token(req sdk.Request) (tok string, formTooLarge bool) {
	if t, ok := sdk.Query(req, p.cfg.QueryParam); ok && t != "" {
		return t, false
	}
	if ct, ok := req.Header("Content-Type"); ok && sdk.HasPrefixFold(ct, "application/x-www-form-urlencoded") {
		body, err := req.Body(p.cfg.MaxFormBytes)
		if err == nil && len(body) > 0 {
			// The body outlives this request only as the next
			// handler's copy, so a view of it is safe here.
			if t, ok := sdk.QueryValue(unsafe.String(unsafe.SliceData(body), len(body)), p.cfg.FormField); ok && t != "" {
				return t, false
			}
		}
		formTooLarge = errors.Is(err, sdk.ErrBodyTooLarge)
	}
	if h, ok := req.Header("Authorization"); ok && len(h) > 7 && sdk.HasPrefixFold(h, "Bearer ") {
		return trimOWS(h[7:]), false
	}
	return "", formTooLarge
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
