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

// unclean reports "//", "/./" or "/../" segments, or a backslash.
func unclean(p string) bool {
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") || strings.IndexByte(p, '\\') >= 0
}

func trimSlash(p string) string {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}
