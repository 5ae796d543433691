package ratelimit

import (
	"fmt"
	"sort"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

// Config is the plugin's JSON configuration (see README.md).
type Config struct {
	// Tiers name sets of limits; each request is in one tier.
	Tiers map[string]Tier `json:"tiers"`
	// DefaultTier is the tier of requests no rule matches. Default
	// "normal".
	DefaultTier string `json:"default_tier"`
	// Rules choose the tier, first match wins.
	Rules []Rule `json:"rules"`
	// Global limits all requests together; nil: no global limit.
	Global *Rate `json:"global"`
	// ForwardedForHops is how many proxies in front of the edge append to
	// X-Forwarded-For; the client IP is the entry that many from the end.
	// 0 (default) ignores the header: clients can write anything in it.
	ForwardedForHops int `json:"forwarded_for_hops"`
	// MaxKeys bounds the buckets an instance keeps when buckets are local
	// (the portable build); default 100000.
	MaxKeys int `json:"max_keys"`
}

// Tier is the limits of one tier; a nil limit does not apply.
type Tier struct {
	// User limits each signed-in user (X-Tremolo-User-Id).
	User *Rate `json:"user"`
	// IP limits each client IP.
	IP *Rate `json:"ip"`
}

// Rate is a token bucket: Rate requests a second on average, Burst at
// once.
type Rate struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
}

// Rule puts requests in Tier. Either Header (with Values, exact, or any
// value when empty), or UserAgent (substrings, ASCII case-insensitive).
type Rule struct {
	Header    string   `json:"header"`
	Values    []string `json:"values"`
	UserAgent []string `json:"user_agent"`
	Tier      string   `json:"tier"`
}

// DefaultConfig returns the defaults; without "tiers", DefaultTiers.
func DefaultConfig() Config {
	return Config{DefaultTier: "normal", MaxKeys: 100_000}
}

// DefaultTiers are the tiers of a config without any: "normal", 10
// requests a second per user (bursts of 20) and 20 per IP (40).
func DefaultTiers() map[string]Tier {
	return map[string]Tier{"normal": {
		User: &Rate{Rate: 10, Burst: 20},
		IP:   &Rate{Rate: 20, Burst: 40},
	}}
}

func (r *Rate) limit(field string) (sdk.Limit, error) {
	if r == nil {
		return sdk.Limit{}, nil
	}
	l, err := sdk.PerSecond(r.Rate, r.Burst)
	if err != nil {
		return sdk.Limit{}, sdk.FieldError(field, "%v", err)
	}
	return l, nil
}

func (c Config) tiers() (map[string]tier, error) {
	if len(c.Tiers) == 0 {
		return nil, sdk.FieldError("tiers", "at least one tier is needed")
	}
	names := make([]string, 0, len(c.Tiers))
	for name := range c.Tiers {
		names = append(names, name)
	}
	sort.Strings(names) // errors name the same field every time
	out := map[string]tier{}
	for _, name := range names {
		t := c.Tiers[name]
		if !validName(name) {
			return nil, sdk.FieldError("tiers."+name, "%q is not a valid tier name (letters, digits, '.', '_', '-')", name)
		}
		var tr tier
		var err error
		tr.name = name
		if tr.user, err = t.User.limit("tiers." + name + ".user"); err != nil {
			return nil, err
		}
		if tr.ip, err = t.IP.limit("tiers." + name + ".ip"); err != nil {
			return nil, err
		}
		out[name] = tr
	}
	if _, ok := out[c.DefaultTier]; !ok {
		return nil, sdk.FieldError("default_tier", "%q is not one of the tiers", c.DefaultTier)
	}
	for i, r := range c.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		if _, ok := out[r.Tier]; !ok {
			return nil, sdk.FieldError(field+".tier", "%q is not one of the tiers", r.Tier)
		}
		switch {
		case (r.Header == "") == (len(r.UserAgent) == 0):
			return nil, sdk.FieldError(field, "set header or user_agent, one of them")
		case r.Header != "" && !validName(r.Header):
			return nil, sdk.FieldError(field+".header", "%q is not a header name", r.Header)
		}
		for j, ua := range r.UserAgent {
			if ua == "" {
				return nil, sdk.FieldError(fmt.Sprintf("%s.user_agent[%d]", field, j), "is empty")
			}
		}
	}
	if c.ForwardedForHops < 0 || c.ForwardedForHops > 16 {
		return nil, sdk.FieldError("forwarded_for_hops", "%d is not between 0 and 16", c.ForwardedForHops)
	}
	if c.MaxKeys < 1 {
		return nil, sdk.FieldError("max_keys", "%d is not positive", c.MaxKeys)
	}
	return out, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
