// Package ratelimit is the edge plugin that limits request rates with
// token buckets: per signed-in user, per client IP and for all requests
// together, with limits by tier (vip, normal, bot, ...) chosen from
// headers earlier plugins derived from the token's claims, or from the
// User-Agent. A refused request gets the app's envelope, HTTP 200
// {"status_code":1008,"status_msg":"too many requests"}, and Retry-After
// in whole seconds.
//
// In the default WebAssembly build buckets live in the host
// (tremolo.bucket_take): one set for all instances of the plugin, and with
// Redis for all edge replicas. The portable build keeps them per instance,
// which limits less precisely (each pooled instance has its own budget):
// fine as a fallback, not as the deployment.
package ratelimit

import (
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

// UserHeader holds the verified user id the jwt plugin sets.
const UserHeader = "X-Tremolo-User-Id"

// CodeTooManyRequests is the envelope's status_code (docs/errors.md).
const CodeTooManyRequests = 1008

var envTooMany = sdk.Envelope(CodeTooManyRequests, "too many requests")

// Plugin is the ratelimit plugin. It is safe for concurrent use.
type Plugin struct {
	cfg     Config
	tiers   map[string]tier
	deflt   tier
	rules   []rule
	global  sdk.Limit
	buckets *sdk.Buckets
}

type tier struct {
	name     string
	user, ip sdk.Limit // RateMilli 0: no limit
}

type rule struct {
	header    string
	values    []string
	userAgent []string // lower case
	tier      tier
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
	if cfg.Tiers == nil { // decoded into an empty map, tiers replace the defaults
		cfg.Tiers = DefaultTiers()
	}
	tiers, err := cfg.tiers()
	if err != nil {
		return nil, err
	}
	global, err := cfg.Global.limit("global")
	if err != nil {
		return nil, err
	}
	p := &Plugin{cfg: cfg, tiers: tiers, deflt: tiers[cfg.DefaultTier], global: global, buckets: sdk.NewBuckets(cfg.MaxKeys)}
	for _, r := range cfg.Rules {
		ru := rule{header: r.Header, values: r.Values, tier: tiers[r.Tier]}
		for _, ua := range r.UserAgent {
			ru.userAgent = append(ru.userAgent, strings.ToLower(ua))
		}
		p.rules = append(p.rules, ru)
	}
	return p, nil
}

// HandleRequest takes a token from each bucket the request counts
// against, and refuses it when one is empty.
func (p *Plugin) HandleRequest(req sdk.Request, resp sdk.Response) bool {
	t := p.tier(req)
	var buf [160]byte
	if t.user.RateMilli > 0 {
		if uid, ok := req.Header(UserHeader); ok && uid != "" && len(uid) <= 32 {
			if !p.take(resp, key(buf[:0], "u:", t.name, uid), t.user, "user") {
				return false
			}
		}
	}
	if t.ip.RateMilli > 0 {
		if ip := p.clientIP(req); ip != "" && len(ip) <= 64 {
			if !p.take(resp, key(buf[:0], "ip:", t.name, ip), t.ip, "ip") {
				return false
			}
		}
	}
	if p.global.RateMilli > 0 && !p.take(resp, "g", p.global, "global") {
		return false
	}
	return true
}

// key builds "<kind><tier>:<id>" in buf. The string is a view of buf:
// Buckets.Take copies keys it keeps.
func key(buf []byte, kind, tier, id string) string {
	b := append(buf, kind...)
	b = append(b, tier...)
	b = append(b, ':')
	b = append(b, id...)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (p *Plugin) take(resp sdk.Response, key string, l sdk.Limit, scope string) bool {
	_, retry, ok := p.buckets.Take(key, l, 1)
	if ok {
		return true
	}
	secs := int64((retry + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	var b [20]byte
	resp.SetHeader("Retry-After", string(strconv.AppendInt(b[:0], secs, 10)))
	sdk.Refuse(resp, envTooMany)
	sdk.CounterAdd("limited_"+scope, 1)
	return false
}

// tier returns the tier of the first rule req matches, or the default.
func (p *Plugin) tier(req sdk.Request) tier {
	var ua string
	var haveUA bool
	for i := range p.rules {
		r := &p.rules[i]
		if r.header != "" {
			v, ok := req.Header(r.header)
			if !ok {
				continue
			}
			if len(r.values) == 0 {
				return r.tier
			}
			for _, want := range r.values {
				if v == want {
					return r.tier
				}
			}
			continue
		}
		if !haveUA {
			ua, _ = req.Header("User-Agent")
			haveUA = true
		}
		for _, sub := range r.userAgent {
			if containsFold(ua, sub) {
				return r.tier
			}
		}
	}
	return p.deflt
}

// containsFold reports whether s contains the lower-case lower, ignoring
// ASCII case, without allocating. It looks for lower's first byte, in either
// case, with strings.IndexByte, and compares only where it is found: in a
// Go guest IndexByte is assembly, while every turn of a byte loop costs a
// jump through the function's dispatch table, which made a byte-by-byte
// search over the User-Agent the chain's costliest guest function.
func containsFold(s, lower string) bool {
	if lower == "" {
		return true
	}
	first := lower[0]
	upper := first
	if 'a' <= first && first <= 'z' {
		upper -= 'a' - 'A'
	}
	return indexFold(s, lower, first) || upper != first && indexFold(s, lower, upper)
}

// indexFold reports whether lower occurs in s, ignoring ASCII case, at an
// index where s has the byte first.
func indexFold(s, lower string, first byte) bool {
	for {
		i := strings.IndexByte(s, first)
		if i < 0 || len(s)-i < len(lower) {
			return false
		}
		if equalFoldLower(s[i+1:i+len(lower)], lower[1:]) {
			return true
		}
		s = s[i+1:]
	}
}

// equalFoldLower reports whether s equals the lower-case lower, ignoring
// ASCII case; len(s) == len(lower).
func equalFoldLower(s, lower string) bool {
	for j := 0; j < len(lower); j++ {
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[j] {
			return false
		}
	}
	return true
}

// clientIP is the source address's IP, or, behind ForwardedForHops
// proxies, the X-Forwarded-For entry the outermost one appended.
func (p *Plugin) clientIP(req sdk.Request) string {
	if hops := p.cfg.ForwardedForHops; hops > 0 {
		vals := req.HeaderValues("X-Forwarded-For")
		// Walk the entries from the end, across header lines.
		n := 0
		for i := len(vals) - 1; i >= 0; i-- {
			list := vals[i]
			for list != "" {
				j := strings.LastIndexByte(list, ',')
				entry := strings.TrimSpace(list[j+1:])
				if j < 0 {
					list = ""
				} else {
					list = list[:j]
				}
				if n++; n == hops {
					return entry
				}
			}
		}
	}
	return sdk.ClientIP(req.SourceAddr())
}
