package jwt

import (
	"fmt"
	"strings"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

// routes are the public routes: exact paths (a trailing slash ignored, as
// the edge ignores it) and prefixes.
type routes struct {
	exact    map[string]bool
	prefixes []string
}

func newRoutes(public []string) (routes, error) {
	r := routes{exact: map[string]bool{}}
	for i, p := range public {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#%") || unclean(strings.TrimSuffix(p, "*")) {
			return routes{}, sdk.FieldError(fmt.Sprintf("public[%d]", i), "%q is not a clean path starting with '/' (end it with '*' for a prefix)", p)
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			r.prefixes = append(r.prefixes, prefix)
			continue
		}
		r.exact[trimSlash(p)] = true
	}
	return r, nil
}

// public reports whether path (as sent, still encoded) is a public route.
// A path with escapes or dot segments never is: "/douyin/feed/../user/"
// must not ride on the feed's exemption past a router that cleans it.
func (r routes) public(path string) bool {
	if strings.IndexByte(path, '%') >= 0 || unclean(path) {
		return false
	}
	if r.exact[trimSlash(path)] {
		return true
	}
	for _, p := range r.prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// unclean reports "//", "/./" or "/../" segments, or a backslash. It visits
// the slashes with strings.IndexByte, assembly in a Go guest, where byte
// loops and substring searches cost a jump through a dispatch table per
// byte: it runs on every request.
func unclean(p string) bool {
	if strings.IndexByte(p, '\\') >= 0 {
		return true
	}
	for {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[i+1:] // what follows the slash
		switch {
		case p == "" || p[0] != '.' && p[0] != '/':
			continue
		case p[0] == '/': // "//"
			return true
		}
		// "/." then: a segment "." or "..", or a name starting with a dot.
		seg := p
		if j := strings.IndexByte(p, '/'); j >= 0 {
			seg = p[:j]
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
}

func trimSlash(p string) string {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}
