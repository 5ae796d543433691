package edge

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
)

func TestNormalizeInt(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"42", "42", true},
		{" 42 ", "42", true},
		{"1e+06", "1000000", true},
		{"1e 06", "1000000", true}, // '+' decoded as a space
		{"1.680703713e+09", "1680703713", true},
		{"1680703713000", "1680703713000", true},
		{"", "", true},
		{"-1", "", false},
		{"1.5", "", false},
		{"abc", "", false},
		{"NaN", "", false},
		{"Inf", "", false},
		{"1e300", "", false},
		{"9007199254740993.0", "", false}, // beyond 2^53: not trustworthy as a float
		{"99999999999999999999", "", false},
	} {
		got, err := normalizeInt("video_id", tc.in, 1<<62)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("normalizeInt(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !edgev1.IsInvalidParameter(err) {
			t.Errorf("normalizeInt(%q): error %v is not INVALID_PARAMETER", tc.in, err)
		}
	}
	if _, err := normalizeInt("action_type", "4294967296", 1<<31-1); err == nil {
		t.Error("action_type beyond int32 accepted")
	}
}

func TestParseParamsMergesQueryAndForm(t *testing.T) {
	body := url.Values{"video_id": {"1e+03"}, "comment_text": {"hi"}, "token": {"t"}}
	r := httptest.NewRequest("POST", "/douyin/comment/action/?video_id=1000&action_type=1&comment_text=hi", strings.NewReader(body.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := parseParams(r); err != nil {
		t.Fatal(err)
	}
	if r.Form.Get("video_id") != "1000" || r.Form.Get("comment_text") != "hi" || r.Form.Get("action_type") != "1" || len(r.Form["video_id"]) != 1 || len(r.Form["comment_text"]) != 1 {
		t.Fatalf("form = %v", r.Form)
	}
}

func TestParseParamsRefusals(t *testing.T) {
	for name, target := range map[string]string{
		"conflicting ids":   "/x?video_id=1&video_id=2",
		"conflicting texts": "/x?content=a&content=b",
		"not UTF-8":         "/x?content=%ff%fe",
		"too long":          "/x?content=" + strings.Repeat("a", maxParamBytes+1),
		"bad escape":        "/x?content=%zz",
		"negative":          "/x?user_id=-5",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL, _ = url.Parse(target)
		if r.URL == nil {
			r.URL = &url.URL{Path: "/x", RawQuery: strings.TrimPrefix(target, "/x?")}
		}
		if err := parseParams(r); !edgev1.IsInvalidParameter(err) {
			t.Errorf("%s: err = %v; want INVALID_PARAMETER", name, err)
		}
	}
}

// FuzzParseParams feeds arbitrary query strings and form bodies: the parser
// must not panic, and whatever it accepts must leave every integer parameter
// as a plain non-negative decimal.
func FuzzParseParams(f *testing.F) {
	f.Add("video_id=1e%2B06&action_type=1", "token=x&comment_text=hello")
	f.Add("user_id=1.5", "")
	f.Add("%zz", "a=%ff")
	f.Fuzz(func(t *testing.T, query, form string) {
		r := httptest.NewRequest("POST", "/douyin/comment/action/", strings.NewReader(form))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if parseParams(r) != nil {
			return
		}
		for name := range integerParams {
			for _, v := range r.Form[name] {
				if v == "" || strings.TrimLeft(v, "0123456789") != "" {
					t.Fatalf("%s=%q accepted from query %q form %q", name, v, query, form)
				}
			}
		}
	})
}

// Clients send GET parameters in a form body too.
func TestParseParamsGetWithFormBody(t *testing.T) {
	r := httptest.NewRequest("GET", "/douyin/publish/list/?token=t", strings.NewReader("user_id=42"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := parseParams(r); err != nil {
		t.Fatal(err)
	}
	if r.Form.Get("user_id") != "42" || r.Form.Get("token") != "t" {
		t.Fatalf("form = %v", r.Form)
	}
}

// Bodies of every route but publish are bounded.
func TestParseParamsBoundsBodies(t *testing.T) {
	r := httptest.NewRequest("POST", "/douyin/user/register/", strings.NewReader(strings.Repeat("a", maxFormBytes+1)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := parseParams(r); !edgev1.IsInvalidParameter(err) {
		t.Fatalf("oversized form: %v", err)
	}
}
