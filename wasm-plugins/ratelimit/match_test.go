package ratelimit

import (
	"strings"
	"testing"
)

func TestContainsFold(t *testing.T) {
	for _, tc := range []struct {
		s, lower string
		want     bool
	}{
		{"Go-http-client/1.1", "bot", false},
		{"Googlebot/2.1", "bot", true},
		{"GOOGLEBOT", "bot", true},
		{"Mozilla/5.0 (compatible; Baiduspider/2.0)", "spider", true},
		{"crawle", "crawler", false},  // too short at the only candidate
		{"ccrawler", "crawler", true}, // the first candidate fails, the second matches
		{"cCRAWLER", "crawler", true},
		{"", "bot", false},
		{"anything", "", true},
		{"b-o-t", "bot", false},
		{"BoT", "bot", true},
		{"123", "3", true},
	} {
		if got := containsFold(tc.s, tc.lower); got != tc.want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", tc.s, tc.lower, got, tc.want)
		}
	}
}

// FuzzContainsFold checks the matcher against its definition: a User-Agent
// is the client's to choose.
func FuzzContainsFold(f *testing.F) {
	f.Add("Mozilla/5.0 (compatible; Googlebot/2.1)", "bot")
	f.Add("xSpIdEr", "spider")
	f.Fuzz(func(t *testing.T, s, pattern string) {
		lower := strings.ToLower(pattern)
		if lower != asciiLower(pattern) {
			return // the rules are lower-cased ASCII-wise; so is the match
		}
		want := strings.Contains(asciiLower(s), lower)
		if got := containsFold(s, lower); got != want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", s, lower, got, want)
		}
	})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
