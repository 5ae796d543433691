// Package abrouting is the edge plugin that places each request in A/B
// experiments and canary releases: weighted arms, sticky per user (the
// X-Tremolo-User-Id the jwt plugin set, else a cookie, else the client
// IP), overridable by testers through a header or cookie. It tells the
// services behind the edge with two headers: X-Tremolo-Version, the label
// service routing matches against instance metadata, and
// X-Tremolo-Experiment, the "experiment=variant" assignments, comma
// separated, for the services to act on and log. What the client sent
// under those names never reaches them: the plugin replaces it, or removes
// it when it has nothing to set (and the override header cannot be one of
// them).
//
// Assignment is a hash, not state: FNV-1a of the arm set's salt and the
// user, finalised with MurmurHash3's mixer, modulo the total weight. The
// same user gets the same arms on every edge replica and instance, and
// raising a canary's weight from 5 to 10 only moves users into the canary,
// never out.
package abrouting

import (
	"strings"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

// The headers the plugin reads and sets.
const (
	VersionHeader    = "X-Tremolo-Version"
	ExperimentHeader = "X-Tremolo-Experiment"
	UserHeader       = "X-Tremolo-User-Id"
)

// Plugin is the abrouting plugin. It is safe for concurrent use.
type Plugin struct {
	cfg         Config
	versions    arms
	experiments []experiment
}

type arms struct {
	list  []Arm
	total uint64
	// seed is the hash of the salt and '/', the start of every unit's
	// hash: the salt is hashed once, not on every request.
	seed uint64
}

type experiment struct {
	name  string
	arms  arms
	paths []string // exact, or prefix when ending in '*'
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
	p := &Plugin{cfg: cfg, versions: newArms(cfg.Salt, cfg.Versions)}
	for _, e := range cfg.Experiments {
		p.experiments = append(p.experiments, experiment{name: e.Name, arms: newArms(e.Salt, e.Variants), paths: e.Paths})
	}
	return p, nil
}

func newArms(salt string, list []Arm) arms {
	a := arms{list: list, seed: fnvByte(fnvString(fnvOffset, salt), '/')}
	for _, x := range list {
		a.total += uint64(x.Weight)
	}
	return a
}

// pick returns the arm of the unit (kind, id): FNV-1a of salt, '/',
// kind, ':', id, modulo the total weight, falls in one arm's share.
func (a arms) pick(u unit) *Arm {
	h := fnvString(a.seed, u.kind)
	h = fnvByte(h, ':')
	h = fnvString(h, u.id)
	point := mix(h) % a.total
	for i := range a.list {
		w := uint64(a.list[i].Weight)
		if point < w {
			return &a.list[i]
		}
		point -= w
	}
	return &a.list[len(a.list)-1]
}

func (a arms) named(name string) *Arm {
	for i := range a.list {
		if a.list[i].Name == name {
			return &a.list[i]
		}
	}
	return nil
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

func fnvByte(h uint64, c byte) uint64 { return (h ^ uint64(c)) * fnvPrime }

// mix is MurmurHash3's 64-bit finaliser. FNV-1a alone spreads similar
// keys badly modulo small numbers (its low bits only depend on the inputs'
// low bits): users 1..2000 put 15% in a 10% canary without it.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// HandleRequest assigns the request its version and variants.
func (p *Plugin) HandleRequest(req sdk.Request, resp sdk.Response) bool {
	u := lazyUnit{p: p, req: req}
	overrides := p.overrides(req)

	var label string
	if len(p.versions.list) > 0 {
		v := p.versions.named(override(overrides, "version"))
		if v == nil {
			v = p.versions.pickFor(&u)
		}
		label = v.Label
	}
	var buf [256]byte
	exps := buf[:0]
	path := req.Path()
	variantLabel := false
	for i := range p.experiments {
		e := &p.experiments[i]
		if !e.matches(path) {
			continue
		}
		v := e.arms.named(override(overrides, e.name))
		if v == nil {
			v = e.arms.pickFor(&u)
		}
		if len(exps) > 0 {
			exps = append(exps, ',')
		}
		exps = append(exps, e.name...)
		exps = append(exps, '=')
		exps = append(exps, v.Name...)
		if v.Label != "" && !variantLabel {
			label, variantLabel = v.Label, true // the first experiment that needs a deployment wins
		}
	}
	// Setting replaces what the client sent; what is not set is removed.
	if label != "" {
		req.SetHeader(VersionHeader, label)
	} else {
		req.RemoveHeader(VersionHeader)
	}
	if len(exps) > 0 {
		sdk.SetHeaderBytes(req, ExperimentHeader, exps)
	} else {
		req.RemoveHeader(ExperimentHeader)
	}
	return true
}

// unit is what assignment sticks to: kind "u" and the user id, else "c"
// and the sticky cookie, else "ip" and the client IP.
type unit struct{ kind, id string }

// lazyUnit is the request's unit, found when an assignment first needs
// it: an arm set of one arm, or an override, needs none, and finding it
// reads request headers (calls to the host in WebAssembly).
type lazyUnit struct {
	p     *Plugin
	req   sdk.Request
	u     unit
	found bool
}

func (l *lazyUnit) get() unit {
	if !l.found {
		l.u, l.found = l.p.unit(l.req), true
	}
	return l.u
}

// pickFor is pick for the request's unit; with one arm, that arm.
func (a arms) pickFor(u *lazyUnit) *Arm {
	if len(a.list) == 1 {
		return &a.list[0]
	}
	return a.pick(u.get())
}

func (p *Plugin) unit(req sdk.Request) unit {
	if uid, ok := req.Header(UserHeader); ok && uid != "" {
		return unit{"u", uid}
	}
	if p.cfg.StickyCookie != "" {
		if c, ok := sdk.Cookie(req, p.cfg.StickyCookie); ok && c != "" {
			return unit{"c", c}
		}
	}
	return unit{"ip", sdk.ClientIP(req.SourceAddr())}
}

// overrides returns the override list: the header's, else the cookie's.
func (p *Plugin) overrides(req sdk.Request) string {
	if p.cfg.OverrideHeader != "" {
		if v, ok := req.Header(p.cfg.OverrideHeader); ok {
			return v
		}
	}
	if p.cfg.OverrideCookie != "" {
		if v, ok := sdk.Cookie(req, p.cfg.OverrideCookie); ok {
			return v
		}
	}
	return ""
}

// override returns the value of key in a "k=v,k=v" override list.
func override(list, key string) string {
	for list != "" {
		var item string
		item, list, _ = strings.Cut(list, ",")
		k, v, _ := strings.Cut(strings.TrimSpace(item), "=")
		if k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (e *experiment) matches(path string) bool {
	if len(e.paths) == 0 {
		return true
	}
	trimmed := path
	if len(trimmed) > 1 && trimmed[len(trimmed)-1] == '/' {
		trimmed = trimmed[:len(trimmed)-1]
	}
	for _, p := range e.paths {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(path, prefix) {
				return true
			}
		} else if p == trimmed || p == path {
			return true
		}
	}
	return false
}
