package jwt

import (
	"strings"
	"testing"
)

// uncleanSpec is what unclean means, spelled out.
func uncleanSpec(p string) bool {
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") || strings.Contains(p, `\`)
}

func TestUnclean(t *testing.T) {
	for _, p := range []string{
		"/douyin/feed/", "/douyin/feed", "/", "", "//", "/a//b", "/a/./b", "/a/../b", "/a/.", "/a/..",
		"/.hidden", "/a/.b/c", "/a/..b", "/a/b.", `/a\b`, "/...", "/a/...", ".", "..", "a/.", "/./",
	} {
		if got, want := unclean(p), uncleanSpec(p); got != want {
			t.Errorf("unclean(%q) = %v, want %v", p, got, want)
		}
	}
}

// FuzzUnclean checks unclean against its definition: the path is the
// client's, and a wrong answer lets "/douyin/feed/../user" pass as public.
func FuzzUnclean(f *testing.F) {
	f.Add("/douyin/feed/../user/")
	f.Add("/a/.b//c")
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := unclean(p), uncleanSpec(p); got != want {
			t.Errorf("unclean(%q) = %v, want %v", p, got, want)
		}
	})
}
