package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
)

// A plugin that refuses a request (jwt without a valid token, ratelimit
// over the limit) writes the envelope itself, as it must in any http-wasm
// host: just {"status_code", "status_msg"}. The app expects every field of
// the route's response in it (lists as [], "token": "" ...), as the edge's
// own refusals have. So the edge holds back what the chain writes until the
// request either reaches the routes (whose answer then goes out as it is)
// or comes back refused, and rewrites a refusal that is an envelope into
// the route's full envelope, keeping its code, message and headers
// (Retry-After). Anything else a plugin writes goes out unchanged.

// maxPluginReply bounds what is held back of a plugin's own answer; a
// longer one is passed on as it is.
const maxPluginReply = 16 << 10

// pluginReply is the ResponseWriter the chain writes to.
type pluginReply struct {
	w    http.ResponseWriter
	path string
	// routed is set once the request reached the routes: from then on,
	// writes go straight to w.
	routed bool
	status int
	body   bytes.Buffer
	// overflow is set when the plugin's answer outgrew maxPluginReply and
	// was passed on.
	overflow bool
}

type pluginReplyKey struct{}

// withPluginReply gives the chain a pluginReply over w.
func withPluginReply(w http.ResponseWriter, r *http.Request) (*pluginReply, *http.Request) {
	pr := &pluginReply{w: w, path: r.URL.Path}
	return pr, r.WithContext(context.WithValue(r.Context(), pluginReplyKey{}, pr))
}

// markRouted is called by the routes: the request passed the chain.
func markRouted(r *http.Request) {
	if pr, ok := r.Context().Value(pluginReplyKey{}).(*pluginReply); ok {
		pr.routed = true
	}
}

func (p *pluginReply) Header() http.Header { return p.w.Header() }

func (p *pluginReply) WriteHeader(code int) {
	if p.routed || p.overflow {
		p.w.WriteHeader(code)
		return
	}
	if p.status == 0 {
		p.status = code
	}
}

func (p *pluginReply) Write(b []byte) (int, error) {
	if p.routed || p.overflow {
		return p.w.Write(b)
	}
	if p.status == 0 {
		p.status = http.StatusOK
	}
	if p.body.Len()+len(b) > maxPluginReply {
		p.overflow = true
		p.w.WriteHeader(p.status)
		if _, err := p.w.Write(p.body.Bytes()); err != nil {
			return 0, err
		}
		return p.w.Write(b)
	}
	return p.body.Write(b)
}

// Flush passes on once the routes answer (streaming responses).
func (p *pluginReply) Flush() {
	if f, ok := p.w.(http.Flusher); ok && (p.routed || p.overflow) {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (p *pluginReply) Unwrap() http.ResponseWriter { return p.w }

// finish writes what a plugin answered, if it answered: an envelope becomes
// the route's full envelope.
func (p *pluginReply) finish() {
	if p.routed || p.overflow || p.status == 0 {
		return
	}
	var env struct {
		StatusCode *int32  `json:"status_code"`
		StatusMsg  *string `json:"status_msg"`
	}
	body := p.body.Bytes()
	if p.status == http.StatusOK && json.Unmarshal(body, &env) == nil && env.StatusCode != nil && env.StatusMsg != nil && *env.StatusCode != 0 {
		body = envelopeOf(p.path, *env.StatusCode, *env.StatusMsg)
		p.w.Header().Set("Content-Type", "application/json")
		p.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	p.w.WriteHeader(p.status)
	_, _ = p.w.Write(body) // the client went away: nothing to tell it
}
