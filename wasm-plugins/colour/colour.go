// Package colour is the edge plugin that colours requests for the services
// behind the edge: it gives every request an id (X-Request-Id, the client's
// when valid), propagates a traffic tag (X-Traffic-Tag: shadow, loadtest,
// ... from the header, or a configured query parameter or cookie) and puts
// the user in a cell (X-Cell-ID, a stable hash of the verified user id into
// N cells), so that logs, shadow traffic and cell routing agree on what a
// request is from the first hop on.
//
// The same logic exists in Rust (../colour-rs); testdata/cases.json is the
// table both must pass.
package colour

import (
	"strconv"

	"github.com/tremolo-dev/tremolo/platform/cells"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

// The headers the plugin reads and sets.
const (
	RequestIDHeader  = "X-Request-Id"
	TrafficTagHeader = "X-Traffic-Tag"
	CellHeader       = "X-Cell-ID"
	// UserHeader holds the verified user id the jwt plugin sets.
	UserHeader = "X-Tremolo-User-Id"
)

// Plugin is the colour plugin. It is safe for concurrent use.
type Plugin struct {
	cfg  Config
	tags map[string]bool // allowed tags; nil allows every valid one
	ids  *idSource
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
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Plugin{cfg: cfg, ids: newIDSource()}
	if len(cfg.Tags) > 0 {
		p.tags = make(map[string]bool, len(cfg.Tags))
		for _, t := range cfg.Tags {
			p.tags[t] = true
		}
	}
	return p, nil
}

// HandleRequest sets the request's id, traffic tag and cell.
func (p *Plugin) HandleRequest(req sdk.Request, resp sdk.Response) bool {
	if id, ok := req.Header(RequestIDHeader); ok && ValidRequestID(id) {
		if p.cfg.EchoRequestID {
			resp.SetHeader(RequestIDHeader, id)
		}
	} else {
		var buf [40]byte
		id := p.ids.appendNext(buf[:0])
		sdk.SetHeaderBytes(req, RequestIDHeader, id)
		if p.cfg.EchoRequestID {
			sdk.SetResponseHeaderBytes(resp, RequestIDHeader, id)
		}
	}
	p.tag(req)
	if p.cfg.Cells > 0 {
		p.cell(req)
	}
	return true
}

// tag keeps a valid X-Traffic-Tag, else takes one from the query or
// cookie, else leaves none.
func (p *Plugin) tag(req sdk.Request) {
	if t, ok := req.Header(TrafficTagHeader); ok {
		if p.allowed(t) {
			return
		}
		req.RemoveHeader(TrafficTagHeader)
	}
	if p.cfg.TagQuery != "" {
		if t, ok := sdk.Query(req, p.cfg.TagQuery); ok && p.allowed(t) {
			req.SetHeader(TrafficTagHeader, t)
			return
		}
	}
	if p.cfg.TagCookie != "" {
		if t, ok := sdk.Cookie(req, p.cfg.TagCookie); ok && p.allowed(t) {
			req.SetHeader(TrafficTagHeader, t)
		}
	}
}

func (p *Plugin) allowed(tag string) bool {
	if !ValidTag(tag) {
		return false
	}
	return p.tags == nil || p.tags[tag]
}

// cell sets X-Cell-ID from the user id; without one it keeps a valid
// X-Cell-ID an earlier hop set, and drops an invalid one.
func (p *Plugin) cell(req sdk.Request) {
	if uid, ok := req.Header(UserHeader); ok && validUserID(uid) {
		var buf [20]byte
		sdk.SetHeaderBytes(req, CellHeader, strconv.AppendUint(buf[:0], Cell(uid, p.cfg.Cells), 10))
		return
	}
	if c, ok := req.Header(CellHeader); ok {
		if n, ok := canonicalUint(c); !ok || n >= uint64(p.cfg.Cells) {
			req.RemoveHeader(CellHeader)
		}
	}
}

// Cell returns the cell of userID among n: the platform's placement of
// users in cells (platform/cells.Of), which the services' balancers route
// on. The Rust plugin computes the same hash; the shared test cases check
// both.
func Cell(userID string, n int) uint64 { return uint64(cells.Of(userID, n)) }

// canonicalUint parses a decimal of at most 9 digits without leading
// zeros: the only spelling of a cell number the plugin sets.
func canonicalUint(s string) (uint64, bool) {
	if s == "" || len(s) > 9 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	return n, true
}

func validUserID(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
